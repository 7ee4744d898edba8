"""The scheduler: due steps of active enrollments become sends, set-based, every minute.

Due emails that may go now are claimed, checked and written in one SQL
statement (``_SEND_DUE_EMAILS``); everything else — branches, tasks, ends,
held-back emails — goes to the step walk: one run per tenant claims a bounded
batch of due enrollments (``FOR UPDATE SKIP LOCKED``, so two runs never take
the same person), walks each person's steps in memory, then writes in a fixed
number of statements: the send log
(keyed enrollment and step, so an edited program never repeats a finished
step), the outbox messages (key ``nurture:<enrollment>:<step>``), the tasks,
and the enrollments' new positions and due times. Emails respect the
contact's frequency cap, the tenant's send window in its own time zone, and
the per-minute throttle; consent is checked again by the sender at send time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from inquiries.models import Activity, ActivityKind, Inquiry
from leadflow.lib import times
from leadflow.outbox.models import OutboxMessage
from leadflow.outbox.services import kick_after_commit
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Tenant
from nurture.models import (
    ConsentMode,
    ContactConsent,
    Enrollment,
    EnrollmentState,
    ExitReason,
    NurtureSend,
    NurtureSettings,
    NurtureStep,
    NurtureTask,
    SendStatus,
    StepKind,
)
from nurture.selectors import may_email, nurture_settings
from nurture.services.enrollment import move_to_long_term

EMAIL_KIND = "nurture_email"
BATCH = 500
# One statement claims and sends at most this many due emails: its row locks are held
# for that statement only (about half a second for 10,000 on the benchmark's machine).
EMAIL_BATCH = 10_000
THROTTLE_RETRY = timedelta(minutes=1)


def outbox_key(enrollment_id: int, step_id: int) -> str:
    return f"nurture:{enrollment_id}:{step_id}"


def next_window_start(moment: datetime, config: NurtureSettings, zone: tzinfo) -> datetime:
    """``moment`` if it is inside the send window (tenant's local time), else the next opening.

    Computed on the local calendar day and converted back, so a window opening
    at 08:00 opens at 08:00 local time on both sides of a DST change. A window
    whose end is before its start runs over midnight; equal ends: always open.
    """
    local = moment.astimezone(zone)
    start, end = config.window_start, config.window_end
    if start == end:
        return moment
    now_time = local.time().replace(tzinfo=None)
    inside = start <= now_time < end if start < end else (now_time >= start or now_time < end)
    if inside:
        return moment
    opening = datetime.combine(local.date(), start, tzinfo=zone)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), start, tzinfo=zone)
    return opening.astimezone(UTC)


@dataclass
class RunResult:
    claimed: int = 0
    emails: int = 0
    tasks: int = 0
    skipped: int = 0
    finished: int = 0
    deferred: int = 0
    # Of ``emails``, those the one-statement path queued; a claim was full (run again).
    fast_emails: int = 0
    full: bool = False


@dataclass
class _Plan:
    """What one run writes, gathered while walking the steps."""

    sends: list[NurtureSend]
    messages: list[OutboxMessage]
    tasks: list[NurtureTask]
    finished: list[int]


def run_due_steps(
    *, now: datetime | None = None, limit: int = BATCH, email_limit: int = EMAIL_BATCH
) -> RunResult:
    """Turn the current tenant's due steps into sends; safe to run twice or at once.

    First the common case in one SQL statement (``_send_due_emails``: a due email
    step that may go now), then everything else — branches, tasks, the end of a
    program, and every email held back by consent, the cap, the window or the
    throttle — on the step walk below, in one claim of at most ``limit``.
    ``result.full`` says a claim was full: more may be due, run again.
    """
    now = now or timezone.now()
    result = RunResult()
    tenant_id = require_tenant_id()
    config = nurture_settings()
    zone = times.zone(Tenant.objects.values_list("timezone", flat=True).get(pk=tenant_id))
    if connection.vendor == "postgresql" and email_limit > 0:
        claimed, sent = _send_due_emails(tenant_id, config, zone, now, email_limit)
        result.claimed += claimed
        result.fast_emails = sent
        result.full = claimed >= email_limit
    slow = _walk_due_steps(tenant_id, config, zone, now, limit)
    result.claimed += slow.claimed
    result.emails = result.fast_emails + slow.emails
    result.tasks = slow.tasks
    result.skipped = slow.skipped
    result.finished = slow.finished
    result.deferred = slow.deferred
    result.full = result.full or slow.claimed >= limit
    return result


def _walk_due_steps(
    tenant_id: int, config: NurtureSettings, zone: tzinfo, now: datetime, limit: int
) -> RunResult:
    """The step walk: one claim of due enrollments, each person's steps walked in memory."""
    result = RunResult()
    with transaction.atomic():
        due = list(
            Enrollment.objects.filter(
                state=EnrollmentState.ACTIVE, due_at__lte=now, program__paused=False
            )
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("due_at", "id")[:limit]
        )
        result.claimed = len(due)
        if not due:
            return result
        steps = _steps_of({e.program_id for e in due})
        people = {
            row["pk"]: row
            for row in Inquiry.objects.filter(pk__in=[e.inquiry_id for e in due]).values(
                "pk", "email", "consent"
            )
        }
        consents = {
            row["inquiry_id"]: row
            for row in ContactConsent.objects.filter(inquiry_id__in=list(people)).values(
                "inquiry_id", "status", "suppressed_at"
            )
        }
        for pk, row in people.items():
            known = consents.get(pk)
            row["mailable"] = may_email(
                status=known["status"] if known else row["consent"],
                suppressed=bool(known and known["suppressed_at"]),
                mode=config.consent_mode,
            )
        done = set(
            NurtureSend.objects.filter(enrollment__in=due).values_list("enrollment_id", "step_id")
        )
        cap_since = now - timedelta(days=config.cap_days)
        recent = {
            row["inquiry_id"]: (row["n"], row["first"])
            for row in NurtureSend.objects.filter(
                inquiry_id__in=list(people),
                kind=StepKind.EMAIL,
                status=SendStatus.QUEUED,
                created_at__gte=cap_since,
            )
            .values("inquiry_id")
            .annotate(n=Count("id"), first=Min("created_at"))
        }
        budget = (
            config.throttle_per_minute
            - NurtureSend.objects.filter(
                kind=StepKind.EMAIL,
                status=SendStatus.QUEUED,
                created_at__gt=now - timedelta(minutes=1),
            ).count()
        )
        clicks = _clicks(due)
        plan = _Plan(sends=[], messages=[], tasks=[], finished=[])
        for enrollment in due:
            program_steps = steps.get(enrollment.program_id, [])
            budget = _walk(
                enrollment,
                program_steps,
                people.get(enrollment.inquiry_id, {}),
                done,
                recent,
                clicks,
                config,
                zone,
                now,
                budget,
                plan,
                result,
            )
        finished = set(plan.finished)
        moved = [e for e in due if e.inquiry_id not in finished]
        if connection.vendor == "postgresql":
            _write_set_based(tenant_id, plan, moved)
        else:
            NurtureSend.objects.bulk_create(plan.sends, ignore_conflicts=True)
            OutboxMessage.objects.bulk_create(plan.messages, ignore_conflicts=True)
            Enrollment.objects.bulk_update(moved, ["position", "due_at", "step_started_at"])
        NurtureTask.objects.bulk_create(plan.tasks)
        if plan.finished:
            move_to_long_term(inquiry_ids=plan.finished, by_label="finished its program")
        if plan.messages:
            kick_after_commit(tenant_id)
    result.emails = len(plan.messages)
    result.tasks = len(plan.tasks)
    result.finished = len(plan.finished)
    return result


# The common case in one statement (PostgreSQL): claim due enrollments (``SKIP LOCKED``,
# so two runs never take the same person), keep those whose step is an email that may go
# now — an address, consent (the rule of ``may_email``), never run for this enrollment
# (the send log's key), under the frequency cap, within the minute's throttle in due
# order — then log the send, queue the outbox message (key ``nurture:<enrollment>:<step>``)
# and move the enrollment on: to the wait's end when the next step is a wait, else due now
# for the step walk. Everything else it claimed is left as it was, due, for the walk.
_SEND_DUE_EMAILS = """
WITH due AS MATERIALIZED (
    SELECT e.id, e.inquiry_id, e.program_id, e.position, e.due_at
    FROM nurture_enrollment e
    WHERE e.tenant_id = %(tenant)s AND e.state = 'active' AND e.due_at <= %(now)s
      AND EXISTS (
          SELECT 1 FROM nurture_nurtureprogram p
          WHERE p.tenant_id = e.tenant_id AND p.id = e.program_id AND NOT p.paused)
    ORDER BY e.due_at, e.id
    LIMIT %(limit)s
    FOR UPDATE OF e SKIP LOCKED
),
budget AS (
    SELECT %(throttle)s - count(*) AS left_over
    FROM nurture_nurturesend
    WHERE tenant_id = %(tenant)s AND kind = 'email' AND status = 'queued'
      AND created_at > %(minute_ago)s
),
ready AS (
    SELECT d.id, d.inquiry_id, s.id AS step_id, i.email, nxt.kind AS next_kind,
        nxt.wait_days, nxt.wait_minutes,
        row_number() OVER (ORDER BY d.due_at, d.id) AS n
    FROM due d
    JOIN nurture_nurturestep s ON s.tenant_id = %(tenant)s AND s.program_id = d.program_id
        AND s.position = d.position AND s.kind = 'email'
    -- Each lookup per claimed person is a fenced subquery (OFFSET 0, or an aggregate):
    -- one index lookup each, whatever the estimates. Joined plainly, the planner chose a
    -- seq scan of the inquiries inside a nested loop when every enrollment of a small
    -- tenant was due at once (10,000 × 10,000 rows; the chaos run's first ticks).
    CROSS JOIN LATERAL (
        SELECT q.email, q.consent FROM inquiries_inquiry q
        WHERE q.tenant_id = %(tenant)s AND q.id = d.inquiry_id
        OFFSET 0
    ) AS i
    LEFT JOIN LATERAL (
        SELECT k.status, k.suppressed_at FROM nurture_contactconsent k
        WHERE k.tenant_id = %(tenant)s AND k.inquiry_id = d.inquiry_id
        OFFSET 0
    ) AS c ON true
    LEFT JOIN nurture_nurturestep nxt ON nxt.tenant_id = %(tenant)s
        AND nxt.program_id = d.program_id AND nxt.position = d.position + 1
    WHERE COALESCE(i.email, '') <> ''
      AND c.suppressed_at IS NULL
      AND CASE COALESCE(c.status, i.consent)
              WHEN 'opted_in' THEN true
              WHEN 'opted_out' THEN false
              WHEN 'pending' THEN false
              ELSE %(opt_out)s END
      AND (SELECT count(*) FROM nurture_nurturesend x
           WHERE x.tenant_id = %(tenant)s AND x.enrollment_id = d.id
             AND x.step_id = s.id) = 0
      AND (SELECT count(*) FROM nurture_nurturesend x
           WHERE x.tenant_id = %(tenant)s AND x.inquiry_id = d.inquiry_id
             AND x.kind = 'email' AND x.status = 'queued'
             AND x.created_at >= %(cap_since)s) < %(cap)s
),
picked AS (
    SELECT r.* FROM ready r, budget b WHERE r.n <= b.left_over
),
logged AS (
    INSERT INTO nurture_nurturesend
        (tenant_id, enrollment_id, step_id, inquiry_id, kind, status, detail, created_at)
    SELECT %(tenant)s, p.id, p.step_id, p.inquiry_id, 'email', 'queued', '', %(created)s
    FROM picked p
    ON CONFLICT DO NOTHING
),
queued AS (
    INSERT INTO outbox_outboxmessage
        (tenant_id, kind, key, recipient, payload, due_at, state, attempts, last_error,
         cause_type, cause_id, created_at)
    SELECT %(tenant)s, %(kind)s, 'nurture:' || p.id || ':' || p.step_id, p.email,
        jsonb_build_object('enrollment', p.id, 'step', p.step_id), %(now)s, 'pending', 0, '',
        'nurture_enrollment', p.id::text, %(created)s
    FROM picked p
    ON CONFLICT DO NOTHING
),
moved AS (
    UPDATE nurture_enrollment AS e
    SET position = e.position + 1, step_started_at = %(now)s,
        due_at = CASE WHEN p.next_kind = 'wait'
            THEN %(now)s + make_interval(days => p.wait_days, mins => p.wait_minutes)
            ELSE %(now)s END
    FROM picked p
    WHERE e.tenant_id = %(tenant)s AND e.id = p.id
    RETURNING e.id
)
SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM moved)
"""


def _send_due_emails(
    tenant_id: int, config: NurtureSettings, zone: tzinfo, now: datetime, limit: int
) -> tuple[int, int]:
    """The one-statement path for due emails that may go now: (claimed, emails queued)."""
    if next_window_start(now, config, zone) > now:
        return 0, 0  # the window is closed: the walk moves each to its opening
    params: dict[str, bool | int | str | datetime] = {
        "tenant": tenant_id,
        "now": now,
        "limit": limit,
        "throttle": config.throttle_per_minute,
        "minute_ago": now - timedelta(minutes=1),
        "opt_out": config.consent_mode == ConsentMode.OPT_OUT,
        "cap_since": now - timedelta(days=config.cap_days),
        "cap": config.cap_emails,
        "created": timezone.now(),
        "kind": EMAIL_KIND,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SEND_DUE_EMAILS, params)
        claimed, sent = cursor.fetchone()
        if sent:
            kick_after_commit(tenant_id)
    return int(claimed), int(sent)


# One statement each for a run's writes (PostgreSQL): arrays bound as parameters and
# unnested, instead of Django's bulk_update (a CASE per row and field, whose
# expressions took 4 of a 500-person run's 6.5 s to build) and bulk_create.
_INSERT_SENDS = """
INSERT INTO nurture_nurturesend
    (tenant_id, enrollment_id, step_id, inquiry_id, kind, status, detail, created_at)
SELECT %s, v.enrollment_id, v.step_id, v.inquiry_id, v.kind, v.status, v.detail, %s
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[])
    AS v(enrollment_id, step_id, inquiry_id, kind, status, detail)
ON CONFLICT DO NOTHING
"""
_INSERT_MESSAGES = """
INSERT INTO outbox_outboxmessage
    (tenant_id, kind, key, recipient, payload, due_at, state, attempts, last_error,
     cause_type, cause_id, created_at)
SELECT %s, %s, v.key, v.recipient,
    jsonb_build_object('enrollment', v.enrollment_id, 'step', v.step_id), %s, 'pending', 0, '',
    'nurture_enrollment', v.enrollment_id::text, %s
FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[])
    AS v(key, recipient, enrollment_id, step_id)
ON CONFLICT DO NOTHING
"""
_UPDATE_ENROLLMENTS = """
UPDATE nurture_enrollment AS e
SET position = v.position, due_at = v.due_at, step_started_at = v.started
FROM unnest(%s::bigint[], %s::integer[], %s::timestamptz[], %s::timestamptz[])
    AS v(id, position, due_at, started)
WHERE e.tenant_id = %s AND e.id = v.id
"""


def _write_set_based(tenant_id: int, plan: _Plan, moved: list[Enrollment]) -> None:
    """The send log, the outbox messages and the enrollments' moves: three statements."""
    created = timezone.now()
    with connection.cursor() as cursor:
        if plan.sends:
            cursor.execute(
                _INSERT_SENDS,
                [
                    tenant_id,
                    created,
                    [send.enrollment_id for send in plan.sends],
                    [send.step_id for send in plan.sends],
                    [send.inquiry_id for send in plan.sends],
                    [send.kind for send in plan.sends],
                    [send.status for send in plan.sends],
                    [send.detail for send in plan.sends],
                ],
            )
        if plan.messages:
            due_at = plan.messages[0].due_at
            cursor.execute(
                _INSERT_MESSAGES,
                [
                    tenant_id,
                    EMAIL_KIND,
                    due_at,
                    created,
                    [message.key for message in plan.messages],
                    [message.recipient for message in plan.messages],
                    [message.payload["enrollment"] for message in plan.messages],
                    [message.payload["step"] for message in plan.messages],
                ],
            )
        if moved:
            cursor.execute(
                _UPDATE_ENROLLMENTS,
                [
                    [e.pk for e in moved],
                    [e.position for e in moved],
                    [e.due_at for e in moved],
                    [e.step_started_at for e in moved],
                    tenant_id,
                ],
            )


def _steps_of(program_ids: set[int]) -> dict[int, list[NurtureStep]]:
    steps: dict[int, list[NurtureStep]] = {}
    for step in NurtureStep.objects.filter(program_id__in=program_ids).order_by("position"):
        steps.setdefault(step.program_id, []).append(step)
    return steps


def _clicks(due: list[Enrollment]) -> dict[int, datetime]:
    """Each person's latest email click (a branch looks for one since its step started)."""
    rows = (
        Activity.objects.filter(
            inquiry_id__in=[e.inquiry_id for e in due], kind=ActivityKind.EMAIL_CLICK
        )
        .values("inquiry_id")
        .annotate(last=Max("occurred_at"))
    )
    return {row["inquiry_id"]: row["last"] for row in rows}


def _walk(  # noqa: C901 — one step kind per branch reads best in one place
    enrollment: Enrollment,
    steps: list[NurtureStep],
    person: dict,  # type: ignore[type-arg]
    done: set[tuple[int, int]],
    recent: dict[int, tuple[int, datetime]],
    clicks: dict[int, datetime],
    config: NurtureSettings,
    zone: tzinfo,
    now: datetime,
    budget: int,
    plan: _Plan,
    result: RunResult,
) -> int:
    """Run one person's steps from their position until one makes them wait."""
    tenant_id = enrollment.tenant_id
    for _ in range(len(steps) + 1):
        if enrollment.position >= len(steps):
            # Finished: the long-term program too, which then starts over as a new
            # enrollment (its steps are keyed per enrollment, so they run again).
            plan.finished.append(enrollment.inquiry_id)
            return budget
        step = steps[enrollment.position]
        if (enrollment.pk, step.pk) in done:
            # Already run (the program was edited around it): never again.
            _advance(enrollment, now)
            continue
        if step.kind == StepKind.WAIT:
            started = enrollment.step_started_at
            if now < started + step.wait:
                enrollment.due_at = started + step.wait
                return budget
            _advance(enrollment, now)
            continue
        if step.kind == StepKind.BRANCH:
            started = enrollment.step_started_at
            clicked_at = clicks.get(enrollment.inquiry_id)
            clicked = clicked_at is not None and clicked_at >= started
            if not clicked and now < started + step.wait:
                enrollment.due_at = started + step.wait
                return budget
            _record(plan, enrollment, step, SendStatus.DONE, "clicked" if clicked else "no click")
            done.add((enrollment.pk, step.pk))
            target = step.branch_to if clicked and step.branch_to is not None else None
            _advance(enrollment, now, to=target)
            continue
        if step.kind == StepKind.TASK:
            plan.tasks.append(
                NurtureTask(
                    tenant_id=tenant_id,
                    enrollment=enrollment,
                    inquiry_id=enrollment.inquiry_id,
                    title=step.subject or "Follow up",
                )
            )
            _record(plan, enrollment, step, SendStatus.DONE, "task created")
            done.add((enrollment.pk, step.pk))
            _advance(enrollment, now)
            continue
        # An email.
        opening = next_window_start(now, config, zone)
        if opening > now:
            enrollment.due_at = opening
            result.deferred += 1
            return budget
        count, first = recent.get(enrollment.inquiry_id, (0, now))
        if count >= config.cap_emails:
            enrollment.due_at = first + timedelta(days=config.cap_days)
            result.deferred += 1
            return budget
        if not person.get("email") or not person.get("mailable"):
            reason = "no email address" if not person.get("email") else "no consent"
            _record(plan, enrollment, step, SendStatus.SKIPPED, reason)
            result.skipped += 1
            done.add((enrollment.pk, step.pk))
            _advance(enrollment, now)
            continue
        if budget <= 0:
            enrollment.due_at = now + THROTTLE_RETRY
            result.deferred += 1
            return budget
        budget -= 1
        _record(plan, enrollment, step, SendStatus.QUEUED, "")
        done.add((enrollment.pk, step.pk))
        recent[enrollment.inquiry_id] = (count + 1, first if count else now)
        key = outbox_key(enrollment.pk, step.pk)
        plan.messages.append(
            OutboxMessage(
                tenant_id=tenant_id,
                kind=EMAIL_KIND,
                key=key,
                recipient=person["email"],
                payload={"enrollment": enrollment.pk, "step": step.pk},
                due_at=now,
                cause_type="nurture_enrollment",
                cause_id=str(enrollment.pk),
            )
        )
        _advance(enrollment, now)
    return budget


def _record(
    plan: _Plan, enrollment: Enrollment, step: NurtureStep, status: str, detail: str
) -> None:
    plan.sends.append(
        NurtureSend(
            tenant_id=enrollment.tenant_id,
            enrollment=enrollment,
            step=step,
            inquiry_id=enrollment.inquiry_id,
            kind=step.kind,
            status=status,
            detail=detail,
        )
    )


def _advance(enrollment: Enrollment, now: datetime, *, to: int | None = None) -> None:
    enrollment.position = enrollment.position + 1 if to is None else to
    enrollment.step_started_at = now
    enrollment.due_at = now


__all__ = ["EMAIL_KIND", "ExitReason", "RunResult", "next_window_start", "run_due_steps"]
