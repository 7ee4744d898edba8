"""Nurture: programs of steps, who is enrolled where, what was sent, consent and sender settings."""

from __future__ import annotations

from datetime import time, timedelta

from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from leadflow.tenancy.models import Tenant, TenantOwnedModel, tenant_foreign_key


class NurtureProgram(TenantOwnedModel):
    """An ordered list of steps that keeps not-ready inquiries warm until they qualify.

    ``audience`` is a rule on the inquiry: ``{"industry": [...], "behaviour_level":
    [...], "source": [...], "reason": [...]}``; a key left out matches everyone, and
    ``reason`` is why the person reached nurture (``below_threshold``, ``not_a_lead``,
    ``lost_not_now``, ``postponed``, ``by_hand``). Programs are tried by ``position``.
    Each tenant has exactly one long-term program, which cannot be deleted.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    audience = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=100)
    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    is_long_term = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["position", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(is_long_term=True),
                name="nurture_program_one_long_term",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    EMAIL = "email", "Send email"
    WAIT = "wait", "Wait"
    TASK = "task", "Task for a qualifier"
    BRANCH = "branch", "Branch on a click"


class NurtureStep(TenantOwnedModel):
    """One step of a program, in ``position`` order.

    ``email``: ``subject`` and ``body`` with merge fields (``{{ first_name }}``,
    ``{{ company }}``); ``wait``: ``wait_days`` and ``wait_minutes``; ``task``: a task
    titled ``subject`` for a qualifier; ``branch``: a person who clicked a nurture
    email within ``wait_days`` goes on at ``branch_to`` (a position), the others at
    the next step.
    """

    program = tenant_foreign_key(
        "nurture.NurtureProgram", on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    wait_days = models.PositiveIntegerField(default=0)
    wait_minutes = models.PositiveIntegerField(default=0)
    branch_to = models.PositiveIntegerField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["program", "position"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "program", "position"], name="nurture_step_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"

    @property
    def wait(self) -> timedelta:
        return timedelta(days=self.wait_days, minutes=self.wait_minutes)


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXITED = "exited", "Exited"
    FINISHED = "finished", "Finished"


class ExitReason(models.TextChoices):
    BECAME_MQL = "became_mql", "Became an MQL"
    BOOKED = "booked", "Booked an appointment"
    DISQUALIFIED = "disqualified", "Disqualified"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Hard bounce"
    COMPLAINED = "complained", "Spam complaint"
    FINISHED = "finished", "Finished the program (moved to long-term)"
    REMOVED = "removed", "Removed by hand"
    MOVED = "moved", "Enrolled in another program by hand"


class Enrollment(TenantOwnedModel):
    """One inquiry in one program: where it is (``position``) and when its next step is due.

    An inquiry has at most one active enrollment (partial unique constraint);
    ``due_at`` lives in the database so the scheduler finds due steps set-based.
    """

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.CASCADE, related_name="+")
    program = tenant_foreign_key(
        "nurture.NurtureProgram", on_delete=models.PROTECT, related_name="enrollments"
    )
    state = models.CharField(
        max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE
    )
    # The position of the next step to run (past the last: the program is finished).
    position = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(default=now)
    # When the person reached the current position (a branch looks for clicks since).
    step_started_at = models.DateTimeField(default=now)
    reason = models.CharField(max_length=40, blank=True)
    enrolled_by = models.CharField(max_length=200, blank=True)
    enrolled_at = models.DateTimeField(default=now)
    exited_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "inquiry"],
                condition=Q(state="active"),
                name="nurture_enrollment_one_active",
            ),
        ]
        indexes = [
            # The scheduler's scan: active enrollments whose step fell due.
            models.Index(
                fields=["tenant", "due_at"],
                name="nurture_enrollment_due_idx",
                condition=Q(state="active"),
            ),
            models.Index(fields=["tenant", "program", "state"], name="nurture_enrollment_prog_idx"),
        ]

    def __str__(self) -> str:
        return f"enrollment {self.pk} ({self.state})"


class SendStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SKIPPED = "skipped", "Skipped"
    DONE = "done", "Done"


class NurtureSend(TenantOwnedModel):
    """A step run for one enrollment: keyed (enrollment, step), so no step ever runs twice."""

    # No key of its own to the tenant, and the person a plain copy of the enrollment's
    # (for the cap's index), not a relation: the composite key to the enrollment holds
    # both — the enrollment's own keys hold its tenant and inquiry. Their checks at
    # commit were two of four a scheduler tick paid per email, the inquiry's a row lock
    # on every person mailed (migration 0011).
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
        db_constraint=False,
    )
    enrollment = tenant_foreign_key(
        "nurture.Enrollment", on_delete=models.CASCADE, related_name="sends"
    )
    step = tenant_foreign_key("nurture.NurtureStep", on_delete=models.CASCADE, related_name="+")
    # Always the enrollment's inquiry (both scheduler paths copy it from there).
    inquiry_id = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    status = models.CharField(max_length=10, choices=SendStatus.choices)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=now)
    # The first tracked click on a link of this email, and the first open (pixel, when on).
    clicked_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "enrollment", "step"], name="nurture_send_once"
            ),
        ]
        indexes = [
            # The frequency cap: a contact's emails in the last days.
            models.Index(
                fields=["tenant", "inquiry_id", "created_at"], name="nurture_send_cap_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for enrollment {self.enrollment_id}"


class NurtureTask(TenantOwnedModel):
    """A task a program's step made for a qualifier (call, postcard)."""

    enrollment = tenant_foreign_key(
        "nurture.Enrollment", on_delete=models.CASCADE, related_name="+"
    )
    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class ConsentStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"
    # Ticked the public form's box; the confirmation email's link not clicked yet (never mailed).
    PENDING = "pending", "Waiting for confirmation"


class ContactConsent(TenantOwnedModel):
    """A contact's current consent to nurture email, and whether they are suppressed.

    Suppressed (a hard bounce or a complaint) is never mailed again, whatever
    the consent. ``token`` is the random part of the contact's unsubscribe link.
    """

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=ConsentStatus.choices, default=ConsentStatus.UNKNOWN
    )
    suppressed_at = models.DateTimeField(null=True, blank=True)
    suppressed_reason = models.CharField(max_length=20, blank=True)
    token = models.CharField(max_length=40)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "inquiry"], name="nurture_consent_contact"),
            models.UniqueConstraint(fields=["tenant", "token"], name="nurture_consent_token"),
        ]

    def __str__(self) -> str:
        return f"consent {self.status} of inquiry {self.inquiry_id}"


class ConsentSource(models.TextChoices):
    FORM = "form", "Form"
    API = "api", "API"
    IMPORT = "import", "Import"
    BY_HAND = "by_hand", "Recorded by hand"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"
    BOUNCE = "bounce", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    DOUBLE_OPT_IN = "double_opt_in", "Confirmed by email (double opt-in)"


# The statuses a person (API, page) may record: pending is set by the double opt-in only.
RECORDABLE_CONSENT_STATUSES = [
    (value, label) for value, label in ConsentStatus.choices if value != "pending"
]
# What a person (API, page) may record; the rest is written by LeadFlow itself.
RECORDABLE_CONSENT_SOURCES = [
    (value, label)
    for value, label in ConsentSource.choices
    if value in ("form", "api", "import", "by_hand")
]


class ConsentEvent(TenantOwnedModel):
    """One change of a contact's consent: what, from where, when, and the text they were shown."""

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    text_shown = models.TextField(blank=True)
    recorded_by = models.CharField(max_length=200, blank=True)
    recorded_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["tenant", "inquiry", "recorded_at"], name="nurture_consent_hist_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.status} by {self.source}"


class ConsentMode(models.TextChoices):
    OPT_IN = "opt_in", "Opt-in (unknown is never mailed)"
    OPT_OUT = "opt_out", "Opt-out (unknown is mailed until they unsubscribe)"


class NurtureSettings(TenantOwnedModel):
    """The tenant's sender, consent mode, caps and send window; one row per tenant.

    Read through ``nurture.selectors.nurture_settings()``, which returns an
    unsaved row with these defaults when the tenant has not changed them.
    """

    from_name = models.CharField(max_length=200, blank=True)
    from_address = models.EmailField(blank=True)
    reply_to = models.EmailField(blank=True)
    postal_address = models.TextField(blank=True)
    consent_mode = models.CharField(
        max_length=10, choices=ConsentMode.choices, default=ConsentMode.OPT_IN
    )
    # At most ``cap_emails`` nurture emails per contact in ``cap_days`` days, across programs.
    cap_emails = models.PositiveSmallIntegerField(default=2)
    cap_days = models.PositiveSmallIntegerField(default=7)
    # Emails go out only between these local times of the tenant's zone (end exclusive).
    window_start = models.TimeField(default=time(8, 0))
    window_end = models.TimeField(default=time(18, 0))
    # At most this many nurture emails per minute for the tenant.
    throttle_per_minute = models.PositiveIntegerField(default=60)
    # Public-form opt-ins wait for the contact to confirm by email before nurture mails them.
    double_opt_in = models.BooleanField(default=False)
    # A 1×1 image in each email records opens; off by default (privacy, and image
    # proxies open every email anyway): clicks are the signal.
    track_opens = models.BooleanField(default=False)
    dkim_selector = models.CharField(max_length=63, blank=True)
    dkim_domain = models.CharField(max_length=253, blank=True)
    dkim_private_key = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant"], name="nurture_settings_one_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"nurture settings of tenant {self.tenant_id}"
