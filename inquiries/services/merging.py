"""Merging inquiries that are the same person into one, with one rule per field.

The rule, the same in the preview and in the merge:

- **Newest non-empty value wins.** The inquiries are ranked by *recency*:
  ``max(updated_at, last_activity_at)`` (a missing ``last_activity_at`` counts
  as ``updated_at``), ties broken by the higher id. For every profile field,
  the outcome, the assigned qualifier and every custom-field key, the most
  recent inquiry with a value that is not empty (``""``, ``None``, and
  ``"unknown"`` for the buying timeline) gives the merged value; the older
  values are dropped. Identities move as a whole:
  ``phone`` with its normalised form, ``external_id`` with its
  ``external_source``; ``company_domain`` follows the merged email, as on
  every capture and edit.
- **Attribution keeps the first touch**: ``source``, ``campaign`` and
  ``partner`` come from the earliest created inquiry that has one, as a
  capture never overwrites them either.
- **Consent: the strictest wins** (opted out, then unknown, then opted in):
  consent is never carried from one person's record to another's.
- **Stage**: a lead stays a lead (and only a lead may be the survivor);
  otherwise a disqualification of any of them stays (requalify explicitly);
  otherwise the recomputed score decides between MQL and nurture.
- ``created_at`` is the earliest, ``last_activity_at`` the latest.

**Every address is kept**: the merged email is the primary one; every other
email of the inquiries (their primary emails and the additional emails they
had) becomes an additional email of the survivor (``InquiryEmail``), shown on
the inquiry, found by the inbox search and matched by every capture and
import, so the person's next response from an old address merges into them.

Every activity moves to the survivor in one set-based ``UPDATE``, a "merged"
activity records the merge on the timeline, the other inquiries are deleted,
and the survivor is rescored from scratch. The audit event on the survivor
holds the complete rows of every merged inquiry as they were before (and the
ids of the activities that moved), so nothing is lost by deleting them.

What points at an inquiry today: activities and additional emails (moved),
and the appointments and leads of ``leads`` (refused on every inquiry but the
survivor: every booking leaves an "appointment booked" activity, which is how
this app, importing nothing of ``leads``, knows). A new table with a foreign
key to the inquiry must be handled here too — moved to the survivor or
refused — or deleting the others would cascade to it or fail on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from inquiries import stages as inquiry_stages
from inquiries.models import (
    Activity,
    ActivityKind,
    Consent,
    CustomField,
    Inquiry,
    InquiryEmail,
    Stage,
    Timeline,
)
from inquiries.profile import ABOUT_FIELDS, CONTACT_FIELDS, PROFILE_LABELS
from inquiries.services import scoring as scoring_services
from inquiries.services.capture import company_domain
from leadflow.lib import edits, stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

# One merge takes at most this many inquiries (the survivor included).
MAX_MERGE = 20
# Strictest first: consent is never carried from one record to another.
CONSENT_STRICTNESS = (Consent.OPTED_OUT, Consent.UNKNOWN, Consent.OPTED_IN)

NEWEST = "newest"
FIRST_TOUCH = "first_touch"
STRICTEST = "strictest"
EARLIEST = "earliest"
LATEST = "latest"
FOLLOWS_EMAIL = "follows_email"
STAGE_RULE = "stage"
RULE_TEXT = {
    NEWEST: "newest non-empty value",
    FIRST_TOUCH: "first touch keeps the credit",
    STRICTEST: "strictest consent",
    EARLIEST: "earliest",
    LATEST: "latest",
    FOLLOWS_EMAIL: "follows the email",
    STAGE_RULE: "lead, then disqualified, then the score decides",
}

# (field, label) merged by the newest non-empty value; phone and external id move as pairs.
# The external id sits with the contact fields: all of them say who the person is.
NEWEST_FIELDS = (
    *((name, PROFILE_LABELS[name]) for name in CONTACT_FIELDS),
    ("external_id", "External id"),
    *((name, PROFILE_LABELS[name]) for name in ABOUT_FIELDS),
    ("outcome", "Outcome"),
    ("assigned_to", "Assigned to"),
)
FIRST_TOUCH_FIELDS = (("source", "Source"), ("campaign", "Campaign"), ("partner", "Partner"))
# The empty value of fields whose empty value is not "".
EMPTY = {"timeline": Timeline.UNKNOWN, "company_size": None, "assigned_to": None}
# Fields that travel with the one named first: they come from the same inquiry.
COMPANIONS = {"phone": ("phone_normalized",), "external_id": ("external_source",)}


@dataclass(frozen=True)
class FieldChoice:
    """One field of the merge: every inquiry's value, the winner and why."""

    name: str
    label: str
    values: tuple[Any, ...]  # one per inquiry, in MergePreview.inquiries order
    value: Any
    winner_id: int | None  # the inquiry whose value wins; None when computed from all
    rule: str

    @property
    def reason(self) -> str:
        text = RULE_TEXT[self.rule]
        return f"{text} (#{self.winner_id})" if self.winner_id else text

    @property
    def differs(self) -> bool:
        return len({repr(v) for v in self.values}) > 1


@dataclass(frozen=True)
class MergePreview:
    """What a merge would do, shown before confirming it."""

    survivor: Inquiry
    inquiries: tuple[Inquiry, ...]  # newest first
    fields: tuple[FieldChoice, ...]
    custom: tuple[FieldChoice, ...]
    activity_counts: dict[int, int]
    # Each inquiry's additional emails today, and the survivor's after the merge.
    additional_emails: dict[int, tuple[str, ...]]
    kept_emails: tuple[str, ...]

    @property
    def others(self) -> tuple[Inquiry, ...]:
        return tuple(i for i in self.inquiries if i.pk != self.survivor.pk)

    def merged_values(self) -> dict[str, Any]:
        """Every column the survivor gets, companions and custom values included."""
        values: dict[str, Any] = {}
        by_id = {inquiry.pk: inquiry for inquiry in self.inquiries}
        for choice in self.fields:
            name = choice.name
            if name in ("campaign", "partner", "assigned_to"):
                name = f"{name}_id"
            values[name] = choice.value
            for companion in COMPANIONS.get(choice.name, ()):
                source = by_id.get(choice.winner_id) if choice.winner_id else None
                values[companion] = getattr(source, companion) if source else ""
        values["custom"] = {c.name: c.value for c in self.custom if c.winner_id is not None}
        return values


def recency(inquiry: Inquiry) -> tuple[datetime, int]:
    """How recent an inquiry's information is: the later of its last edit and last activity."""
    last = inquiry.updated_at
    if inquiry.last_activity_at is not None and inquiry.last_activity_at > last:
        last = inquiry.last_activity_at
    return (last, inquiry.pk)


def is_empty(name: str, value: Any) -> bool:
    if value is None or value == "":
        return True
    return name == "timeline" and value == Timeline.UNKNOWN


def default_survivor(inquiries: list[Inquiry]) -> Inquiry:
    """The survivor a merge proposes: the lead if one is, else the newest inquiry."""
    leads = [i for i in inquiries if i.stage == Stage.LEAD]
    return leads[0] if leads else max(inquiries, key=recency)


# --- The plan ---------------------------------------------------------------------


def _newest(name: str, label: str, ranked: list[Inquiry], attr: str | None = None) -> FieldChoice:
    attr = attr or name
    values = tuple(getattr(i, attr) for i in ranked)
    for inquiry, value in zip(ranked, values, strict=True):
        if not is_empty(name, value):
            return FieldChoice(name, label, values, value, inquiry.pk, NEWEST)
    return FieldChoice(name, label, values, EMPTY.get(name, ""), None, NEWEST)


def _first_touch(name: str, label: str, ranked: list[Inquiry]) -> FieldChoice:
    attr = name if name == "source" else f"{name}_id"
    values = tuple(getattr(i, attr) for i in ranked)
    by_age = sorted(ranked, key=lambda i: (i.created_at, i.pk))
    for inquiry in by_age:
        value = getattr(inquiry, attr)
        if value not in (None, "") and not (name == "source" and value == "other"):
            return FieldChoice(name, label, values, value, inquiry.pk, FIRST_TOUCH)
    empty = "other" if name == "source" else None
    return FieldChoice(name, label, values, empty, None, FIRST_TOUCH)


def _stage(ranked: list[Inquiry]) -> tuple[str, str]:
    if any(i.stage == Stage.LEAD for i in ranked):
        return Stage.LEAD, ""
    disqualified = [i for i in ranked if i.stage == Stage.DISQUALIFIED]
    if disqualified:
        return Stage.DISQUALIFIED, disqualified[0].disqualified_reason
    return "", ""


def _kept_emails(
    ranked: list[Inquiry], additional: dict[int, tuple[str, ...]], primary: str
) -> tuple[str, ...]:
    """Every address of the inquiries but the merged primary one, newest inquiry first."""
    emails = []
    for inquiry in ranked:
        emails.append(inquiry.email)
        emails.extend(additional.get(inquiry.pk, ()))
    return tuple(e for e in dict.fromkeys(emails) if e and e != primary)


def _plan(
    survivor: Inquiry,
    inquiries: list[Inquiry],
    activity_counts: dict[int, int],
    additional: dict[int, tuple[str, ...]],
) -> MergePreview:
    ranked = sorted(inquiries, key=recency, reverse=True)
    fields: list[FieldChoice] = []
    for name, label in NEWEST_FIELDS:
        attr = "assigned_to_id" if name == "assigned_to" else name
        fields.append(_newest(name, label, ranked, attr))
    email = next(c.value for c in fields if c.name == "email")
    fields.append(
        FieldChoice(
            "company_domain",
            "Company domain",
            tuple(i.company_domain for i in ranked),
            company_domain(email),
            None,
            FOLLOWS_EMAIL,
        )
    )
    fields.extend(_first_touch(name, label, ranked) for name, label in FIRST_TOUCH_FIELDS)
    consents = tuple(i.consent for i in ranked)
    strictest = next(c for c in CONSENT_STRICTNESS if c in consents)
    fields.append(FieldChoice("consent", "Email consent", consents, strictest, None, STRICTEST))
    stage, reason = _stage(ranked)
    found = tuple(i.stage for i in ranked)
    fields.append(FieldChoice("stage", "Stage", found, stage or survivor.stage, None, STAGE_RULE))
    if stage == Stage.DISQUALIFIED:
        fields.append(
            FieldChoice(
                "disqualified_reason",
                "Disqualified because",
                tuple(i.disqualified_reason for i in ranked),
                reason,
                None,
                STAGE_RULE,
            )
        )
    fields.append(
        FieldChoice(
            "created_at",
            "First seen",
            tuple(i.created_at for i in ranked),
            min(i.created_at for i in ranked),
            None,
            EARLIEST,
        )
    )
    last_activity = [i.last_activity_at for i in ranked if i.last_activity_at is not None]
    fields.append(
        FieldChoice(
            "last_activity_at",
            "Last activity",
            tuple(i.last_activity_at for i in ranked),
            max(last_activity) if last_activity else None,
            None,
            LATEST,
        )
    )
    return MergePreview(
        survivor=survivor,
        inquiries=tuple(ranked),
        fields=tuple(fields),
        custom=tuple(_custom_choices(ranked)),
        activity_counts=activity_counts,
        additional_emails={i.pk: additional.get(i.pk, ()) for i in ranked},
        kept_emails=_kept_emails(ranked, additional, email),
    )


def _custom_choices(ranked: list[Inquiry]) -> list[FieldChoice]:
    labels = dict(CustomField.objects.order_by("label", "id").values_list("key", "label"))
    keys = {key for inquiry in ranked for key in (inquiry.custom or {})}
    ordered = [key for key in labels if key in keys] + sorted(keys - set(labels))
    choices = []
    for key in ordered:
        values = tuple((i.custom or {}).get(key) for i in ranked)
        winner = next(
            ((i, v) for i, v in zip(ranked, values, strict=True) if not is_empty("custom", v)),
            None,
        )
        choices.append(
            FieldChoice(
                key,
                labels.get(key, key),
                values,
                winner[1] if winner else None,
                winner[0].pk if winner else None,
                NEWEST,
            )
        )
    return choices


# --- Checks ------------------------------------------------------------------------


def _check_ids(survivor_id: int, other_ids: list[int]) -> list[int]:
    if survivor_id in other_ids:
        raise RuleViolation(
            field="others", code="self_merge", message="An inquiry cannot be merged into itself."
        )
    ids = sorted({survivor_id, *other_ids})
    if len(ids) < 2:
        raise RuleViolation(
            field="others", code="too_few", message="Choose at least one other inquiry to merge."
        )
    if len(ids) > MAX_MERGE:
        raise RuleViolation(
            field="others",
            code="too_many",
            message=f"Merge at most {MAX_MERGE} inquiries at once.",
        )
    return ids


def _check_leads(survivor: Inquiry, inquiries: list[Inquiry]) -> None:
    """A lead keeps its appointment and sales' lead, so it can only be the survivor."""
    losers = [i.pk for i in inquiries if i.pk != survivor.pk]
    booked = (
        any(i.stage == Stage.LEAD for i in inquiries if i.pk != survivor.pk)
        or Activity.objects.filter(
            inquiry_id__in=losers, kind=ActivityKind.APPOINTMENT_BOOKED
        ).exists()
    )
    if not booked:
        return
    leads = sum(1 for i in inquiries if i.stage == Stage.LEAD)
    if leads > 1:
        raise RuleViolation(
            field="others",
            code="several_leads",
            message="More than one of these inquiries is a lead already; sales has both — "
            "they cannot be merged here.",
        )
    raise RuleViolation(
        field="survivor",
        code="lead_must_survive",
        message="One of the others is a lead with a booked appointment; "
        "keep the lead as the survivor.",
    )


def _activity_counts(ids: list[int]) -> dict[int, int]:
    counts = dict(
        Activity.objects.filter(inquiry_id__in=ids)
        .values("inquiry_id")
        .annotate(n=models.Count("id"))
        .values_list("inquiry_id", "n")
    )
    return {pk: counts.get(pk, 0) for pk in ids}


def _additional_emails(ids: list[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for inquiry_id, email in (
        InquiryEmail.objects.filter(inquiry_id__in=ids)
        .order_by("inquiry_id", "email")
        .values_list("inquiry_id", "email")
    ):
        found.setdefault(inquiry_id, []).append(email)
    return {pk: tuple(emails) for pk, emails in found.items()}


def preview_merge(*, survivor: Inquiry, others: list[Inquiry]) -> MergePreview:
    """What merging ``others`` into ``survivor`` would give, field by field; nothing is written.

    Refuses (``RuleViolation``) exactly what the merge itself refuses.
    """
    ids = _check_ids(survivor.pk, [o.pk for o in others])
    inquiries = list({i.pk: i for i in [survivor, *others]}.values())
    _check_leads(survivor, inquiries)
    return _plan(survivor, inquiries, _activity_counts(ids), _additional_emails(ids))


# --- The merge ---------------------------------------------------------------------


def snapshot(inquiry: Inquiry) -> dict[str, Any]:
    """Every column of the inquiry, as JSON: what the audit keeps of a merged inquiry."""
    row: dict[str, Any] = {}
    for field in inquiry._meta.concrete_fields:
        value = getattr(inquiry, field.attname)
        row[field.attname] = _jsonable(value)
    return row


def _jsonable(value: Any) -> Any:
    """A column's value as the audit's JSON can hold it (a deal's value stays exact as text)."""
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@transaction.atomic
def merge_inquiries(*, survivor: Inquiry, others: list[Inquiry], by: Principal) -> Inquiry:
    """Merge inquiries that are the same person into the survivor; the others are removed.

    Rows are locked in id order (so overlapping merges wait for each other
    instead of deadlocking); an inquiry merged away meanwhile is a conflict.
    Returns the survivor, rescored.
    """
    ids = _check_ids(survivor.pk, [o.pk for o in others])
    locked = list(Inquiry.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(locked) != len(ids):
        raise RuleViolation(
            field="others",
            code="gone",
            conflict=True,
            message="One of these inquiries was merged or removed meanwhile; reload and retry.",
        )
    survivor = next(i for i in locked if i.pk == survivor.pk)
    _check_leads(survivor, locked)
    loser_ids = [i.pk for i in locked if i.pk != survivor.pk]
    plan = _plan(survivor, locked, _activity_counts(ids), _additional_emails(ids))
    moved: dict[str, list[int]] = {str(pk): [] for pk in loser_ids}
    for inquiry_id, activity_id in (
        Activity.objects.filter(inquiry_id__in=loser_ids)
        .order_by("id")
        .values_list("inquiry_id", "id")
    ):
        moved[str(inquiry_id)].append(activity_id)
    before = {str(i.pk): snapshot(i) for i in plan.inquiries}

    Activity.objects.filter(inquiry_id__in=loser_ids).update(inquiry_id=survivor.pk)
    # The addresses kept are stored again below, the merged primary one not at all.
    InquiryEmail.objects.filter(inquiry_id__in=ids).delete()
    # Deleting first frees the others' email and external id for the survivor.
    Inquiry.objects.filter(pk__in=loser_ids).delete()

    now = timezone.now()
    values = plan.merged_values()
    # The survivor's stage changes only through the stage mover, after the other values.
    written = {name: value for name, value in values.items() if name != "stage"}
    target = values.get("stage", survivor.stage)
    also: dict[str, Any] = {}
    if target != survivor.stage and "disqualified_reason" in written:
        also["disqualified_reason"] = written.pop("disqualified_reason")
    for name, value in written.items():
        setattr(survivor, name, value)
    survivor.updated_at = now
    survivor.save(update_fields=[*written, "updated_at"])
    # The others are gone (their cohorts lose them) and the survivor may have a new source,
    # campaign or partner: followers of edits place them by when each arrived.
    edits.edited(
        "inquiry",
        ids,
        {*written, "merged"},
        arrived=[inquiry.created_at for inquiry in locked],
    )
    if target != survivor.stage:
        stages.move(
            survivor,
            target,
            by=by,
            reason=f"merged with #{', #'.join(str(pk) for pk in loser_ids)}",
            also=also,
            machine_name=inquiry_stages.MACHINE,
        )
    InquiryEmail.objects.bulk_create(
        [
            InquiryEmail(tenant=by.tenant, inquiry=survivor, email=email, created_at=now)
            for email in plan.kept_emails
        ]
    )
    Activity.objects.create(
        tenant=by.tenant,
        inquiry=survivor,
        kind=ActivityKind.MERGED,
        occurred_at=now,
        created_at=now,
        details={
            "merged_inquiries": loser_ids,
            "merged": "; ".join(
                f"#{i.pk} {i.display_name}" + (f" <{i.email}>" if i.email else "")
                for i in plan.others
            ),
            "by": by.label,
            **({"kept_emails": list(plan.kept_emails)} if plan.kept_emails else {}),
        },
    )
    scoring_services.score_inquiry(inquiry=survivor, by=by)
    after = {name: _jsonable(value) for name, value in values.items()}
    after |= {
        "survivor": survivor.pk,
        "merged": loser_ids,
        "score": survivor.score,
        "stage": survivor.stage,
        "activities_moved": moved,
        "additional_emails": list(plan.kept_emails),
    }
    record_audit(
        action="inquiry.duplicates_merged",
        obj=survivor,
        before={
            "inquiries": before,
            "additional_emails": {str(pk): list(e) for pk, e in plan.additional_emails.items()},
        },
        after=after,
        by=by,
    )
    for loser in plan.others:
        record_audit(
            action="inquiry.merged_into",
            obj=loser,
            before={"email": loser.email, "stage": loser.stage},
            after={"survivor": survivor.pk},
            by=by,
        )
    return survivor
