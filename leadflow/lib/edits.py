"""Edits that are not stage moves, told to whoever follows them (the stage mover's hooks'
counterpart for fields such as an inquiry's source, campaign or partner, or a lead's owner).

An app that changes such fields calls :func:`edited` inside its transaction; the
hooks registered with :func:`on_edit` run after the commit (never on a rollback).
The app that keeps derived data (the dashboards' rollups) registers the hook, so
the app that edits never imports it. ``arrived`` carries each record's
``created_at``: a record deleted by the edit (a merged-away inquiry) can still
be placed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from leadflow.tenancy.context import require_tenant_id


@dataclass(frozen=True)
class Edits:
    kind: str  # "inquiry" or "lead"
    tenant_id: int
    ids: tuple[int, ...]
    fields: frozenset[str]
    arrived: tuple[datetime, ...] = ()


Hook = Callable[[Edits], None]
_hooks: dict[str, list[Hook]] = defaultdict(list)


def on_edit(kind: str, hook: Hook) -> None:
    """Call ``hook`` after commit whenever records of ``kind`` are edited."""
    if hook not in _hooks[kind]:
        _hooks[kind].append(hook)


def edited(
    kind: str,
    ids: Iterable[int],
    fields: Iterable[str],
    *,
    arrived: Iterable[datetime] = (),
) -> None:
    """Tell the hooks of ``kind`` that ``fields`` of records ``ids`` changed (after commit)."""
    edits = Edits(
        kind=kind,
        tenant_id=require_tenant_id(),
        ids=tuple(ids),
        fields=frozenset(fields),
        arrived=tuple(arrived),
    )
    hooks = list(_hooks.get(kind, ()))
    if hooks and (edits.ids or edits.arrived) and edits.fields:
        transaction.on_commit(lambda: [hook(edits) for hook in hooks])
