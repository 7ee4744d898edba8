"""Reads of nurture: programs, enrollments, the never-dropped check, consent, settings and
a program's funnel."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from inquiries.models import Inquiry, Stage
from leadflow.lib import program_funnels
from nurture.models import (
    ConsentEvent,
    ConsentMode,
    ConsentStatus,
    ContactConsent,
    Enrollment,
    EnrollmentState,
    NurtureProgram,
    NurtureSettings,
    NurtureStep,
)


def nurture_settings() -> NurtureSettings:
    """The tenant's nurture settings, or an unsaved row with the defaults."""
    return NurtureSettings.objects.first() or NurtureSettings()


def programs() -> QuerySet[NurtureProgram]:
    """Programs in the order enrollment tries them, each with its active enrollment count."""
    return NurtureProgram.objects.annotate(
        active_count=Count("enrollments", filter=Q(enrollments__state=EnrollmentState.ACTIVE))
    ).order_by("position", "id")


def program_choices() -> QuerySet[NurtureProgram]:
    """Programs a person can be enrolled in by hand, for a select (names only, one query)."""
    return NurtureProgram.objects.only("pk", "name").order_by("position", "id")


def program_steps(program: NurtureProgram) -> list[NurtureStep]:
    return list(NurtureStep.objects.filter(program=program).order_by("position"))


def enrollments(
    *, program_id: int | None = None, inquiry_id: int | None = None
) -> QuerySet[Enrollment]:
    """Enrollments newest first, with the inquiry and program they show (one query a page)."""
    rows = Enrollment.objects.select_related("inquiry", "program")
    if program_id is not None:
        rows = rows.filter(program_id=program_id)
    if inquiry_id is not None:
        rows = rows.filter(inquiry_id=inquiry_id)
    return rows.order_by("-enrolled_at", "-id")


def active_enrollment_of(inquiry_id: int) -> Enrollment | None:
    return (
        Enrollment.objects.select_related("program")
        .filter(inquiry_id=inquiry_id, state=EnrollmentState.ACTIVE)
        .first()
    )


def has_active_enrollment() -> Exists:
    """Per inquiry (``OuterRef("pk")``): it has an active enrollment."""
    return Exists(
        Enrollment.objects.filter(inquiry_id=OuterRef("pk"), state=EnrollmentState.ACTIVE)
    )


def left_nurture_email() -> Exists:
    """Per inquiry: the contact unsubscribed, bounced hard or complained (never enrolled again)."""
    return Exists(
        ContactConsent.objects.filter(inquiry_id=OuterRef("pk")).filter(
            Q(status=ConsentStatus.OPTED_OUT) | Q(suppressed_at__isnull=False)
        )
    )


def unenrolled_nurture_inquiries() -> QuerySet[Inquiry]:
    """Inquiries in stage nurture with no active enrollment: what must never exist.

    A contact who left nurture email themselves (unsubscribed, bounced,
    complained) is not dropped: their enrollment ended with that reason.
    """
    return (
        Inquiry.objects.filter(stage=Stage.NURTURE)
        .exclude(has_active_enrollment())
        .exclude(left_nurture_email())
        .order_by("pk")
    )


@dataclass(frozen=True)
class ConsentView:
    """A contact's consent now, its history, and whether nurture may email them."""

    status: str
    suppressed: bool
    suppressed_reason: str
    mailable: bool
    history: list[ConsentEvent]


def may_email(*, status: str, suppressed: bool, mode: str) -> bool:
    """The rule checked at send time: never suppressed; opt-in needs a yes, opt-out a no-no."""
    if suppressed or status in (ConsentStatus.OPTED_OUT, ConsentStatus.PENDING):
        return False  # pending: a double opt-in not confirmed yet, in either mode
    if status == ConsentStatus.OPTED_IN:
        return True
    return mode == ConsentMode.OPT_OUT


def consent_of(inquiry: Inquiry) -> ConsentView:
    """The contact's consent (the capture's value until nurture records one) and history."""
    row = ContactConsent.objects.filter(inquiry=inquiry).first()
    status = row.status if row is not None else _captured(inquiry)
    suppressed = row is not None and row.suppressed_at is not None
    history = list(ConsentEvent.objects.filter(inquiry=inquiry).order_by("-recorded_at", "-id"))
    return ConsentView(
        status=status,
        suppressed=suppressed,
        suppressed_reason=row.suppressed_reason if row is not None else "",
        mailable=may_email(
            status=status, suppressed=suppressed, mode=nurture_settings().consent_mode
        ),
        history=history,
    )


def _captured(inquiry: Inquiry) -> str:
    """The consent the capture recorded on the inquiry (same three values)."""
    return (
        str(inquiry.consent) if inquiry.consent in ConsentStatus.values else ConsentStatus.UNKNOWN
    )


@dataclass(frozen=True)
class Funnel:
    """Of the people ever enrolled in a program, how many then engaged, became MQL, lead, won."""

    enrolled: int
    engaged: int
    mql: int
    lead: int
    won: int

    def as_rows(self) -> list[tuple[str, str, int, int]]:
        """(key, label, count, percent of enrolled) for a page."""
        labels = [
            ("enrolled", "Enrolled"),
            ("engaged", "Engaged"),
            ("mql", "MQL"),
            ("lead", "Lead"),
            ("won", "Won"),
        ]
        return [
            (key, label, getattr(self, key), round(100 * getattr(self, key) / self.enrolled))
            if self.enrolled
            else (key, label, getattr(self, key), 0)
            for key, label in labels
        ]


def program_funnel(program: NurtureProgram) -> Funnel:
    """The program's funnel over every enrollment ever made in it, people counted once.

    The definition is the dashboards' (reporting registers it in
    ``leadflow.lib.program_funnels``), so this page and the dashboard's nurture
    breakdown agree: *engaged*, an engagement activity while enrolled; *MQL*, a
    move to MQL or lead since the enrollment; *lead*, a lead of the person made
    since it; *won*, such a lead won now. Each step implies the one before.
    """
    return Funnel(**program_funnels.count(program.pk))
