"""Where a nurture program's funnel is counted: one definition, registered by the app that owns it.

A program's page and ``GET /api/v1/nurture/programs/{id}/funnel/`` (nurture)
and the dashboards' nurture breakdown (reporting) show the same steps,
enrolled → engaged → MQL → lead → won. The definition needs the leads (a lead
of the person made since the enrollment, won now), which nurture may not
import (the layers contract: leads and nurture are siblings, reporting above
them). So reporting, which reads both, registers its counter here in its
``AppConfig.ready()`` and nurture asks for it: the page and the dashboard
cannot drift apart.

A counter takes a program's id and returns the people counted at each step
over every enrollment ever made in the program, in a fixed number of queries,
within the current tenant (scoped managers and row-level security).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

#: The steps a counter returns, in funnel order.
STEPS = ("enrolled", "engaged", "mql", "lead", "won")

#: ``program_id -> {step: people}``.
ProgramFunnelCounter = Callable[[int], dict[str, int]]

_counter: list[ProgramFunnelCounter] = []


def register_counter(counter: ProgramFunnelCounter) -> None:
    """Make ``counter`` the one that counts every program's funnel (replaces an earlier one)."""
    _counter[:] = [counter]


def count(program_id: int) -> dict[str, int]:
    """The program's funnel, from the registered counter."""
    if not _counter:
        raise ImproperlyConfigured(
            "No program funnel counter is registered (the reporting app registers it)."
        )
    return _counter[0](program_id)
