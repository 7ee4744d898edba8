"""The lead's stages and the moves allowed between them (``leadflow/lib/stages.py``).

A lead is born awaiting its owner's acceptance (not a move: no history row).
The owner accepts it (SAL) or rejects it as not a lead, qualifies it (SQL),
and it ends won, lost or postponed, or as a no-show when the meeting did not
happen. A closed lead stays closed except for two moves back to ``accepted``:
a manager's reopen and a postponement reaching its date. The table allows
them, so every other service passes ``only_from`` (the open stages) to the
mover: what the table allows is not what each use case may do.
"""

from __future__ import annotations

from leadflow.lib import stages

MACHINE = "lead"
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "awaiting_acceptance": ("accepted", "rejected", "no_show", "lost", "postponed"),
    "accepted": ("sql", "won", "lost", "postponed", "no_show"),
    "sql": ("won", "lost", "postponed", "no_show"),
    # Closed: only a manager's reopen (or a postponement's date) brings a lead back.
    "won": ("accepted",),
    "lost": ("accepted",),
    "postponed": ("accepted",),
    "no_show": ("accepted",),
    "rejected": ("accepted",),
}
OPEN = ("awaiting_acceptance", "accepted", "sql")


def declare() -> stages.Machine:
    from leads.models import Lead, LeadStage

    assert set(TRANSITIONS) == set(LeadStage.values), "every stage has its row in the table"
    return stages.declare(MACHINE, Lead, TRANSITIONS)
