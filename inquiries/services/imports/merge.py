"""The merge rule of both writing paths, the "merged" timeline entry, where written people go."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from django.db import IntegrityError, models

from inquiries import stages as inquiry_stages
from inquiries.models import Activity, Consent, ImportJob, Inquiry, Source, Stage
from inquiries.profile import PROFILE_FIELDS
from inquiries.services.capture import company_domain
from inquiries.services.imports.matching import Person
from inquiries.services.imports.scorer import Scorer
from inquiries.services.imports.staging import TEXT_FIELDS, StoredInquiry, staged_merge
from leadflow.lib import edits, stages
from leadflow.tenancy.principal import Principal


def _label(name: str) -> str:
    column = Inquiry._meta.get_field(name)
    # The profile's fields are the inquiry's own columns, never a relation's reverse side.
    assert isinstance(column, models.Field)
    return str(column.verbose_name)


FIELD_LABELS = {name: _label(name) for name in PROFILE_FIELDS}


class ValueChange(TypedDict):
    """One value a row of the file replaced, as the "merged" timeline entry lists it."""

    row: int
    field: str
    label: str
    old: Any
    new: Any


def value_changes(person: Person, stored: Inquiry | StoredInquiry | None) -> list[ValueChange]:
    """Each value a row of the file replaced, in the order the rows are applied.

    A new person starts from its first row; a stored one from what is stored.
    """
    rows = person.rows
    if stored is None:
        current = dict(person.row_values(rows[0]))
        rows = rows[1:]
    else:
        current = {name: getattr(stored, name) for name in PROFILE_FIELDS}
    changes: list[ValueChange] = []
    for row in rows:
        for name, value in person.row_values(row).items():
            if name not in FIELD_LABELS:
                continue
            old = current.get(name)
            if old not in (None, "") and old != value:
                changes.append(
                    {
                        "row": row.number,
                        "field": name,
                        "label": FIELD_LABELS[name],
                        "old": old,
                        "new": value,
                    }
                )
            current[name] = value
    return changes


def merged_details(
    job: ImportJob, changed: list[str], changes: list[ValueChange]
) -> dict[str, Any]:
    """What the "merged" entry of an import says: the import, the fields and the rows' changes."""
    details: dict[str, Any] = {
        "source": Source.IMPORT,
        "import_job": job.pk,
        "file": job.file_name,
        "updated_fields": changed,
    }
    if changes:
        details["changes"] = changes
    return details


def merge_stored(
    people: list[Person], now: datetime, scorer: Scorer | None, written: Written
) -> tuple[list[tuple[Any, ...]], dict[int, set[tuple[str, datetime]]]]:
    """Merge the known people into their stored inquiries in memory.

    Returns their stage rows and the activities they have stored, which the
    chunk does not add again. The stored rows are locked for the chunk's
    transaction, so a capture of the same person at the same moment waits
    instead of being overwritten. ``merge_into`` is the merge rule of both
    writing paths.
    """
    known = [(p, p.target_id) for p in people if p.target_id is not None]
    if not known:
        return [], {}
    ids = [pk for _p, pk in known]
    stored = StoredInquiry.locked(ids)
    if len(stored) < len(set(ids)):
        # Merged away or deleted since the chunk was matched: the chunk's
        # transaction is retried and matches again (``run._run_chunk``).
        raise IntegrityError("an inquiry the chunk merges into is gone")
    activities: dict[int, list[tuple[str, datetime]]] = {pk: [] for pk in ids}
    for pk, kind, when in Activity.objects.filter(inquiry_id__in=ids).values_list(
        "inquiry_id", "kind", "occurred_at"
    ):
        activities[pk].append((kind, when))
    rows = []
    for person, target_id in known:
        inquiry = stored[target_id]
        last_before = inquiry.last_activity_at
        written.changes[inquiry.pk] = value_changes(person, inquiry)
        changed = merge_into(inquiry, person, now)
        written.changed[inquiry.pk] = changed
        dirty = bool(changed) or inquiry.last_activity_at != last_before
        if scorer is not None and inquiry.stage != Stage.DISQUALIFIED:
            had = activities[inquiry.pk]
            seen = set(had)
            everything = had + [a for a in sorted(person.activities) if a not in seen]
            target = scorer.rescore(inquiry, everything)
            if target is not None:
                written.moves.setdefault(target, []).append(inquiry.pk)
            dirty = True
        rows.append(staged_merge(person, inquiry, changed, dirty))
    return rows, {pk: set(had) for pk, had in activities.items()}


@dataclass
class Written:
    """What a chunk wrote, and the stage moves its rescoring calls for.

    ``arrived``: the new inquiries by the stage they were created in;
    ``moves``: target stage → the stored inquiries the rescoring sends
    there, moved by the caller through the stage mover once the rows are
    written. And, per stored inquiry merged, the fields its merge changed
    and the values the rows replaced.
    """

    arrived: dict[str, list[int]] = field(default_factory=dict)
    moves: dict[str, list[int]] = field(default_factory=dict)
    changed: dict[int, list[str]] = field(default_factory=dict)
    changes: dict[int, list[ValueChange]] = field(default_factory=dict)


def route_written(written: Written, *, by: Principal) -> None:
    """Move the stored inquiries the chunk rescored; hand its new ones to their stage's hooks.

    A stored person whose score crosses the threshold moves through the
    stage mover (one call per target stage, one history row each). A new
    person was created already in its stage: not a move, no history, but the
    stage's hooks (nurture's enrolment) see it all the same.
    """
    for target, ids in sorted(written.moves.items()):
        stages.move_many(
            inquiry_stages.MACHINE,
            ids,
            target,
            by=by,
            reason="import rescore",
            only_from=inquiry_stages.SCORED,
        )
    for stage, ids in sorted(written.arrived.items()):
        stages.arrived(inquiry_stages.MACHINE, ids, stage, by=by)
    # Stored people whose merged values changed (a campaign, an outcome): not moves, but
    # followers of edits (the dashboards' rollups) hear of them all the same.
    merged = {pk: changed for pk, changed in written.changed.items() if changed}
    if merged:
        fields = {name for changed in merged.values() for name in changed}
        edits.edited("inquiry", sorted(merged), fields)


MERGED_FIELDS = [
    *(name for name in TEXT_FIELDS),
    "company_domain",
    "company_size",
    "custom",
    "consent",
    "external_source",
    "external_id",
    "campaign",
    "outcome_on",
    "outcome_value",
    "updated_at",
    "last_activity_at",
]


def merge_into(inquiry: Inquiry | StoredInquiry, person: Person, now: datetime) -> list[str]:
    """Apply a person's values to a stored inquiry as the SQL path does; the fields changed."""
    changed = []
    for name, value in person.values.items():
        if getattr(inquiry, name) != value:
            setattr(inquiry, name, value)
            changed.append(name)
    if "email" in changed:
        inquiry.company_domain = company_domain(inquiry.email)
    if any(inquiry.custom.get(k) != v for k, v in person.custom.items()):
        inquiry.custom = {**inquiry.custom, **person.custom}
        changed.append("custom")
    if person.consent not in ("", Consent.UNKNOWN) and person.consent != inquiry.consent:
        inquiry.consent = person.consent
        changed.append("consent")
    if person.external_id_new and not inquiry.external_id:
        inquiry.external_source = person.external_source_new
        inquiry.external_id = person.external_id_new
        changed.append("external_id")
    if person.outcome and person.outcome != inquiry.outcome:
        inquiry.outcome = person.outcome
        changed.append("outcome")
    if person.outcome_on and person.outcome_on != inquiry.outcome_on:
        inquiry.outcome_on = person.outcome_on
        changed.append("outcome_on")
    if person.outcome_value is not None and person.outcome_value != inquiry.outcome_value:
        inquiry.outcome_value = person.outcome_value
        changed.append("outcome_value")
    if person.campaign_id and inquiry.campaign_id is None:
        inquiry.campaign_id = person.campaign_id
        changed.append("campaign")
    last = max((w for _k, w in person.activities), default=None)
    if last and (inquiry.last_activity_at is None or last > inquiry.last_activity_at):
        inquiry.last_activity_at = last
    if changed:
        inquiry.updated_at = now
    return sorted(changed)
