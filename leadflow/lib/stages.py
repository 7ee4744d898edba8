"""One owner of every stage change: a transition table per kind of record, one mover.

An app declares a **machine** for each model that has a stage (``inquiries``
the inquiry's, ``leads`` the lead's): which stages exist and which moves are
allowed. Every write of a stage goes through :func:`move` (one record) or
:func:`move_many` (a set, one statement). A move

* changes only records whose current stage allows it (a conditional
  ``UPDATE``; a record already elsewhere is left alone and not counted);
* writes one ``StageChange`` row per record moved — who, from, to, why and
  when — in the same transaction, set-based on PostgreSQL (one statement for
  the update and the history);
* after commit, calls the hooks registered for the machine and the target
  stage with what moved (:class:`Moves`). Apps that react to a move (nurture
  enrolls a person moved to nurture; reporting rolls up) register a hook in
  their ``AppConfig.ready()`` with :func:`on_move`, so the app that owns the
  stage never imports them.

Creating a record already in a stage (an import's new rows) is not a move: it
writes no history, but :func:`arrived` hands the records to the same hooks,
so whatever follows a move to that stage applies to them too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.principal import Principal


class StageMoveRefused(Exception):
    """A move the machine's transition table does not allow."""


@dataclass(frozen=True)
class Machine:
    """The stages of one model and the moves allowed between them."""

    name: str
    model: type[models.Model]
    transitions: Mapping[str, frozenset[str]]
    field_name: str = "stage"

    def sources_of(self, target: str) -> frozenset[str]:
        """The stages a record may be moved to ``target`` from."""
        if target not in self.stages:
            raise StageMoveRefused(f"{self.name}: no stage {target!r}")
        return frozenset(s for s, targets in self.transitions.items() if target in targets)

    @property
    def stages(self) -> frozenset[str]:
        return frozenset(self.transitions) | frozenset(
            t for targets in self.transitions.values() for t in targets
        )


@dataclass(frozen=True)
class Moves:
    """What one call moved: handed to the hooks after commit."""

    machine: str
    to: str
    tenant_id: int
    ids: tuple[int, ...]
    from_stages: Mapping[int, str] = field(default_factory=dict)
    reason: str = ""
    by: Principal | None = None
    arrived: bool = False  # created in the stage, not moved


Hook = Callable[[Moves], None]
_machines: dict[str, Machine] = {}
_hooks: dict[tuple[str, str], list[Hook]] = defaultdict(list)


def declare(
    name: str,
    model: type[models.Model],
    transitions: Mapping[str, Iterable[str]],
    *,
    field_name: str = "stage",
) -> Machine:
    """Register a model's machine (idempotent for the same name and model)."""
    machine = Machine(
        name=name,
        model=model,
        transitions={s: frozenset(t) for s, t in transitions.items()},
        field_name=field_name,
    )
    known = _machines.get(name)
    if known is not None and known.model is not model:
        raise ValueError(f"machine {name!r} is declared for {known.model.__name__} already")
    _machines[name] = machine
    return machine


def machine(name: str) -> Machine:
    try:
        return _machines[name]
    except KeyError:
        raise LookupError(f"no stage machine {name!r} is declared") from None


def on_move(machine_name: str, to: str, hook: Hook) -> None:
    """Call ``hook`` after commit whenever records of ``machine_name`` reach ``to``."""
    if hook not in _hooks[(machine_name, to)]:
        _hooks[(machine_name, to)].append(hook)


def _after_commit(moves: Moves) -> None:
    hooks = list(_hooks.get((moves.machine, moves.to), ()))
    if hooks and moves.ids:
        transaction.on_commit(lambda: [hook(moves) for hook in hooks])


def move(
    record: models.Model,
    to: str,
    *,
    by: Principal,
    reason: str = "",
    also: Mapping[str, Any] | None = None,
    only_from: Iterable[str] | None = None,
    machine_name: str | None = None,
) -> bool:
    """Move one record to ``to``; False (nothing written) if its stage does not allow it.

    ``also`` sets other fields in the same write (e.g. the disqualify reason);
    ``only_from`` narrows the stages taken from, as in :func:`move_many`.
    The record in memory is updated when it moved.
    """
    chosen = _machine_of(record, machine_name)
    moved = move_many(
        chosen.name,
        [record.pk],
        to,
        by=by,
        reason=reason,
        also=also,
        only_from=only_from,
        _single=True,
    )
    if moved:
        setattr(record, chosen.field_name, to)
        for name, value in (also or {}).items():
            setattr(record, name, value)
    return bool(moved)


def _machine_of(record: models.Model, machine_name: str | None) -> Machine:
    if machine_name is not None:
        return machine(machine_name)
    for candidate in _machines.values():
        if isinstance(record, candidate.model):
            return candidate
    raise LookupError(f"no stage machine is declared for {type(record).__name__}")


def move_many(
    machine_name: str,
    ids: Iterable[int],
    to: str,
    *,
    by: Principal,
    reason: str = "",
    also: Mapping[str, Any] | None = None,
    only_from: Iterable[str] | None = None,
    _single: bool = False,
) -> int:
    """Move the records ``ids`` that may go to ``to``; returns how many moved.

    One conditional ``UPDATE`` and one history row per record moved, in the
    caller's transaction (or one of its own). ``only_from`` narrows the
    stages taken from (within those the table allows).
    """
    chosen = machine(machine_name)
    sources = chosen.sources_of(to)
    if only_from is not None:
        sources = sources & frozenset(only_from)
    ids = sorted(set(ids))
    if not ids or not sources:
        return 0
    tenant_id = require_tenant_id()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            moved = _move_in_sql(chosen, ids, to, sources, tenant_id, by, reason, also or {})
        else:
            moved = _move_with_orm(chosen, ids, to, sources, tenant_id, by, reason, also or {})
        if moved:
            _after_commit(
                Moves(
                    machine=chosen.name,
                    to=to,
                    tenant_id=tenant_id,
                    ids=tuple(sorted(moved)),
                    from_stages=moved,
                    reason=reason,
                    by=by,
                )
            )
    return len(moved)


def arrived(
    machine_name: str, ids: Iterable[int], stage: str, *, by: Principal | None = None
) -> None:
    """Records created already in ``stage`` (not a move: no history): run its hooks."""
    chosen = machine(machine_name)
    if stage not in chosen.stages:
        raise StageMoveRefused(f"{chosen.name}: no stage {stage!r}")
    ids = tuple(sorted(set(ids)))
    if ids:
        _after_commit(
            Moves(
                machine=chosen.name,
                to=stage,
                tenant_id=require_tenant_id(),
                ids=ids,
                by=by,
                arrived=True,
            )
        )


def _history_model() -> type[models.Model]:
    from leadflow.tenancy.models import StageChange

    return StageChange


def _actor(by: Principal) -> tuple[int | None, str]:
    return (by.user.pk if by.user is not None else None), by.label[:200]


def _concrete(meta: Any, name: str) -> models.Field[Any, Any]:
    """A concrete column of the model (the stage, or a field set with it)."""
    model_field = meta.get_field(name)
    if not isinstance(model_field, models.Field) or not model_field.concrete:
        raise ValueError(f"{name!r} is not a column of {meta.label}")
    return model_field


def _move_in_sql(
    chosen: Machine,
    ids: list[int],
    to: str,
    sources: frozenset[str],
    tenant_id: int,
    by: Principal,
    reason: str,
    also: Mapping[str, Any],
) -> dict[int, str]:
    """The update and the history in one statement: lock, update, insert, return."""
    model = chosen.model
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    stage_column = connection.ops.quote_name(_concrete(meta, chosen.field_name).column)
    now = timezone.now()
    sets = [f"{stage_column} = %s"]
    params: list[Any] = [to]
    values = dict(also)
    if "updated_at" in {f.name for f in meta.concrete_fields} and "updated_at" not in values:
        values["updated_at"] = now
    for name, value in values.items():
        model_field = _concrete(meta, name)
        sets.append(f"{connection.ops.quote_name(model_field.column)} = %s")
        params.append(model_field.get_db_prep_save(value, connection))
    actor_id, actor_label = _actor(by)
    history = connection.ops.quote_name(_history_model()._meta.db_table)
    sql = (
        f"WITH old AS (SELECT id, {stage_column} AS from_stage FROM {table} "
        f"WHERE tenant_id = %s AND id = ANY(%s) AND {stage_column} = ANY(%s) "
        f"ORDER BY id FOR UPDATE), "
        f"moved AS (UPDATE {table} AS t SET {', '.join(sets)} FROM old "
        f"WHERE t.tenant_id = %s AND t.id = old.id RETURNING t.id, old.from_stage) "
        f"INSERT INTO {history} (tenant_id, machine, object_id, from_stage, to_stage, reason, "
        f"actor_id, actor_label, created_at) "
        f"SELECT %s, %s, id, from_stage, %s, %s, %s, %s, %s FROM moved "
        f"RETURNING object_id, from_stage"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                tenant_id,
                ids,
                sorted(sources),
                *params,
                tenant_id,
                tenant_id,
                chosen.name,
                to,
                reason[:200],
                actor_id,
                actor_label,
                now,
            ],  # fmt: skip
        )
        return dict(cursor.fetchall())


def _move_with_orm(
    chosen: Machine,
    ids: list[int],
    to: str,
    sources: frozenset[str],
    tenant_id: int,
    by: Principal,
    reason: str,
    also: Mapping[str, Any],
) -> dict[int, str]:
    """SQLite (the embedded default): lock-free but in one transaction, the same rows."""
    model = chosen.model
    now = timezone.now()
    taken = model._default_manager.filter(
        pk__in=ids, **{f"{chosen.field_name}__in": sorted(sources)}
    )
    moved = dict(taken.values_list("pk", chosen.field_name))
    if not moved:
        return {}
    values = {chosen.field_name: to, **also}
    if "updated_at" in {f.name for f in model._meta.concrete_fields}:
        values.setdefault("updated_at", now)
    model._default_manager.filter(pk__in=list(moved)).update(**values)
    actor_id, actor_label = _actor(by)
    history = _history_model()
    history._default_manager.bulk_create(
        [
            history(
                tenant_id=tenant_id,
                machine=chosen.name,
                object_id=pk,
                from_stage=from_stage,
                to_stage=to,
                reason=reason[:200],
                actor_id=actor_id,
                actor_label=actor_label,
                created_at=now,
            )
            for pk, from_stage in sorted(moved.items())
        ],
        batch_size=1000,
    )
    return moved
