"""Inquiries: who responded, what they did, the agreed lead definition, and appointments."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.timezone import now

from leadflow.lib.jobs import BackgroundJob, JobStatus
from leadflow.tenancy.models import Tenant, TenantOwnedModel, User, tenant_foreign_key


class Source(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    DOWNLOAD = "download", "Download"
    WEBINAR = "webinar", "Webinar"
    EVENT = "event", "Event card"
    PARTNER_REFERRAL = "partner_referral", "Partner referral"
    CHAT = "chat", "Chat"
    EMAIL = "email", "Email reply"
    API = "api", "API"
    IMPORT = "import", "Import"
    OTHER = "other", "Other"


class Timeline(models.TextChoices):
    NOW = "now", "Now"
    WITHIN_3_MONTHS = "0-3m", "Within 3 months"
    WITHIN_6_MONTHS = "3-6m", "3–6 months"
    WITHIN_12_MONTHS = "6-12m", "6–12 months"
    LATER = "12m+", "Later than 12 months"
    UNKNOWN = "unknown", "Unknown"


class Consent(models.TextChoices):
    """Permission to send marketing email; the strictest value wins on a merge."""

    UNKNOWN = "unknown", "Unknown"
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"


class Stage(models.TextChoices):
    INQUIRY = "inquiry", "Inquiry"
    MQL = "mql", "MQL"
    NURTURE = "nurture", "Nurture"
    LEAD = "lead", "Lead"
    DISQUALIFIED = "disqualified", "Disqualified"


class BehaviourLevel(models.TextChoices):
    VISITOR = "visitor", "Visitor"
    CONVERSION = "conversion", "Conversion"
    PROSPECT = "prospect", "Prospect"
    RESEARCHER = "researcher", "Researcher"
    INVESTIGATOR = "investigator", "Investigator"
    INFLUENCER = "influencer", "Influencer"
    MQL = "mql", "MQL"


class ActivityKind(models.TextChoices):
    FORM_FILL = "form_fill", "Form fill"
    DOWNLOAD = "download", "Download"
    WEBINAR = "webinar", "Webinar"
    EVENT_CARD = "event_card", "Event card"
    PARTNER_REFERRAL = "partner_referral", "Partner referral"
    CHAT = "chat", "Chat"
    EMAIL_REPLY = "email_reply", "Email reply"
    EMAIL_CLICK = "email_click", "Email click"
    PAGE_VISIT = "page_visit", "Page visit"
    MERGED = "merged", "Merged response"
    APPOINTMENT_BOOKED = "appointment_booked", "Appointment booked"


# What a caller may record; "merged" and "appointment_booked" are written by LeadFlow itself.
RECORDABLE_ACTIVITY_KINDS = [
    (value, label)
    for value, label in ActivityKind.choices
    if value not in (ActivityKind.MERGED, ActivityKind.APPOINTMENT_BOOKED)
]


class Outcome(models.TextChoices):
    """A known end of the story, from a lead or from an imported history."""

    WON = "won", "Won"
    LOST = "lost", "Lost"


class Campaign(TenantOwnedModel):
    """A marketing effort with its spend, so cost per inquiry, MQL and lead can be computed."""

    name = models.CharField(max_length=200)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.OTHER)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    # Archived campaigns leave the pickers (bulk "add to campaign", import names, the API's
    # default list) but keep their inquiries and their place in reports.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                models.F("tenant"), Lower("name"), name="inquiries_campaign_name_uniq"
            ),
            models.CheckConstraint(
                condition=Q(spend__gte=0), name="inquiries_campaign_spend_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomFieldKind(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    CHOICE = "choice", "Choice"
    BOOLEAN = "boolean", "Yes/no"


class CustomField(TenantOwnedModel):
    """One of the tenant's own qualifiers (every business has 4–5), typed and validated."""

    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=CustomFieldKind.choices)
    choices = models.JSONField(default=list, blank=True)
    # Off until an admin or marketer puts the field on /f/<tenant>/: a field made
    # for an import ("Import notes") is not a question for buyers.
    on_public_form = models.BooleanField(default=False)
    # A buyer must answer it on the public form (imports and the API may leave it empty).
    required = models.BooleanField(default=False)
    # A choice field open to new values: an import's value step offers each value it
    # has not seen as a new choice (added when the value map is saved).
    open_choices = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["label", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "key"], name="inquiries_customfield_key_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class DefinitionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class LeadDefinition(TenantOwnedModel):
    """One version of the tenant's agreed lead definition: rules, MQL threshold, qualifiers.

    A draft becomes active only after a marketing and a sales sign-off by two
    different people; an active or retired version is never edited, only copied.
    """

    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=DefinitionStatus.choices, default=DefinitionStatus.DRAFT
    )
    fit_rules = models.JSONField(default=list, blank=True)
    engagement_rules = models.JSONField(default=list, blank=True)
    qualifiers = models.JSONField(default=list, blank=True)
    mql_threshold = models.PositiveIntegerField(default=50)
    leads_per_rep_per_week = models.PositiveIntegerField(default=10)
    reps = models.PositiveIntegerField(default=1)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-version"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "version"], name="inquiries_leaddefinition_version_uniq"
            ),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(status="active"),
                name="inquiries_leaddefinition_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.name}"

    @property
    def weekly_capacity(self) -> int:
        return self.leads_per_rep_per_week * self.reps


class SignOffSide(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"


class DefinitionSignOff(TenantOwnedModel):
    """A manager's signature on a draft, for marketing or for sales."""

    definition = tenant_foreign_key(
        "inquiries.LeadDefinition", on_delete=models.CASCADE, related_name="sign_offs"
    )
    side = models.CharField(max_length=10, choices=SignOffSide.choices)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["signed_at", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "definition", "side"], name="inquiries_signoff_side_uniq"
            ),
            models.UniqueConstraint(
                fields=["tenant", "definition", "user"], name="inquiries_signoff_user_uniq"
            ),
        ]


class Inquiry(TenantOwnedModel):
    """One prospective buyer known to marketing, with profile, score and stage."""

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    phone_normalized = models.CharField(max_length=20, blank=True)
    title = models.CharField(max_length=200, blank=True)
    company = models.CharField(max_length=200, blank=True)
    company_domain = models.CharField(max_length=253, blank=True)
    company_size = models.PositiveIntegerField(null=True, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=100, blank=True)
    interest = models.CharField(max_length=200, blank=True)
    timeline = models.CharField(max_length=10, choices=Timeline.choices, default=Timeline.UNKNOWN)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.OTHER)
    campaign = tenant_foreign_key(
        "inquiries.Campaign", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    consent = models.CharField(max_length=10, choices=Consent.choices, default=Consent.UNKNOWN)
    external_source = models.CharField(max_length=50, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=4, choices=Outcome.choices, blank=True)
    # When the known outcome closed and what it was worth (an imported history).
    outcome_on = models.DateField(null=True, blank=True)
    outcome_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.INQUIRY)
    disqualified_reason = models.CharField(max_length=200, blank=True)
    fit_score = models.IntegerField(default=0)
    engagement_score = models.IntegerField(default=0)
    score = models.IntegerField(default=0)
    score_breakdown = models.JSONField(default=list, blank=True)
    behaviour_level = models.CharField(
        max_length=12, choices=BehaviourLevel.choices, default=BehaviourLevel.VISITOR
    )
    definition = tenant_foreign_key(
        "inquiries.LeadDefinition",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    scored_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # The qualifier working this inquiry in the triage inbox.
    assigned_to = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=~Q(email=""),
                name="inquiries_inquiry_email_uniq",
            ),
            models.UniqueConstraint(
                fields=["tenant", "external_source", "external_id"],
                condition=~Q(external_id=""),
                name="inquiries_inquiry_external_uniq",
            ),
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone_normalized="") | ~Q(external_id=""),
                name="inquiries_inquiry_has_identity",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "phone_normalized"], name="inquiries_inquiry_phone_idx"),
            models.Index(fields=["tenant", "company_domain"], name="inquiries_inquiry_domain_idx"),
            # Keyset pagination of the triage inbox: every sort ends with the id.
            models.Index(fields=["tenant", "-score", "-id"], name="inquiries_inquiry_score_idx"),
            models.Index(
                fields=["tenant", "-last_activity_at", "-id"], name="inquiries_inquiry_active_idx"
            ),
            models.Index(fields=["tenant", "assigned_to"], name="inquiries_inquiry_assignee_idx"),
            # Migration 0006: keyset pages of the inbox by newest, and by score within a stage.
            # (They made (tenant, stage, -score) and (tenant, -created_at) redundant: 0009.)
            models.Index(
                fields=["tenant", "-created_at", "-id"], name="inquiries_inquiry_newest_idx"
            ),
            models.Index(
                fields=["tenant", "stage", "-score", "-id"], name="inquiries_inquiry_stage_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.phone or self.external_id


class InquiryEmail(TenantOwnedModel):
    """Another address of the person, kept when inquiries are merged.

    Shown on the inquiry, found by the inbox search and matched by every
    door (capture, the public form, partner referrals, imports): a response
    from this address merges into the inquiry. An address is one person's:
    unique in the tenant here, and the services refuse it as another
    inquiry's primary email (``capture.email_owner``).
    """

    inquiry = tenant_foreign_key(
        "inquiries.Inquiry", on_delete=models.CASCADE, related_name="additional_emails"
    )
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["email", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "email"], name="inquiries_inqemail_uniq"),
        ]

    def __str__(self) -> str:
        return self.email


class Activity(TenantOwnedModel):
    """One thing the person did; feeds engagement points and the timeline."""

    # No foreign key of its own to the tenant: the composite key to the
    # inquiry, ``(tenant_id, inquiry_id) → (tenant_id, id)``, already holds the
    # tenant to one that exists, and its check at commit cost as much again
    # (0.4 s per 76,000 imported activities).
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
        db_constraint=False,
    )
    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField(default=now)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # The timeline's order, with the kind alongside: the rescoring job
            # reads a batch's activities from the index alone, already sorted.
            models.Index(
                fields=["tenant", "inquiry", "-occurred_at", "-id"],
                include=["kind"],
                name="inq_activity_timeline_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"


# Rescoring has exactly the states every background job shares.
RescoreStatus = JobStatus


class RescoreJob(BackgroundJob):
    """Rescoring the whole tenant under a newly active definition, resumable by id."""

    definition = tenant_foreign_key(
        "inquiries.LeadDefinition", on_delete=models.CASCADE, related_name="+"
    )
    as_of = models.DateTimeField(default=now)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    last_inquiry_id = models.BigIntegerField(default=0)

    class Meta(BackgroundJob.Meta):
        pass

    def __str__(self) -> str:
        return f"rescore to v{self.definition_id}: {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))


class BulkAction(models.TextChoices):
    ASSIGN = "assign", "Assign"
    DISQUALIFY = "disqualify", "Disqualify"
    NURTURE = "nurture", "Mark for nurture"
    ADD_TO_CAMPAIGN = "add_to_campaign", "Add to campaign"


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class BulkJob(BackgroundJob):
    """A bulk action on all inquiries matching a filter, too many for one request.

    A worker applies it in batches of ids (ascending), committing each batch
    with the progress, so a killed worker's successor resumes after
    ``last_inquiry_id``.
    """

    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=BulkAction.choices)
    query = models.TextField(blank=True)
    # What the action needs, by id: {"assignee": id|None} / {"reason": id} / {"campaign": id}.
    values = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=BulkStatus.choices, default=BulkStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    last_inquiry_id = models.BigIntegerField(default=0)

    class Meta(BackgroundJob.Meta):
        pass

    def __str__(self) -> str:
        return f"bulk {self.action}: {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        if self.status == BulkStatus.DONE:
            return 100
        return 0 if not self.total else min(99, round(100 * self.done / self.total))

    @property
    def skipped(self) -> int:
        return self.done - self.changed


# --- Imports and triage ------------------------------------------------------------------


class ImportStatus(models.TextChoices):
    ANALYSED = "analysed", "Awaiting mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ImportOutcome(models.TextChoices):
    """How a finished import ended, told apart by what it imported."""

    DONE = "done", "Done"
    DONE_WITH_SKIPPED = "done_with_skipped", "Done, rows skipped"
    NOTHING_IMPORTED = "nothing_imported", "Nothing imported"


class RowProblem(models.TextChoices):
    """An error skips its row; a warning leaves one cell out and imports the row."""

    ERROR = "error", "Error"
    WARNING = "warning", "Warning"


class ImportJob(TenantOwnedModel):
    """One uploaded CSV file: its detected format, its mapping, the dry run and the real run."""

    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    # Relative to settings.IMPORTS_ROOT; the file is kept until the job ends.
    stored_path = models.CharField(max_length=500)
    file_size = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    placeholders = models.JSONField(default=list, blank=True)
    # The saved mapping this job's mapping was saved as: the value step updates it too.
    mapping_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.ANALYSED
    )
    dry_run = models.JSONField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    new_count = models.PositiveIntegerField(default=0)
    merged_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    # Cells left out of rows that were imported (a bad optional value); see the report.
    warning_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="inquiries_import_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"import {self.file_name}: {self.done_rows}/{self.total_rows}"

    @property
    def percent(self) -> int:
        """How much of the file has been read (not how much of it was imported)."""
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.done_rows / self.total_rows))

    @property
    def imported_rows(self) -> int:
        """Rows read and written: new people plus rows merged into a known one."""
        return self.new_count + self.merged_count

    @property
    def imported_percent(self) -> int:
        """The share of the rows read that were imported, rounded down: 100 only when all were."""
        if not self.done_rows:
            return 0
        return 100 * self.imported_rows // self.done_rows

    @property
    def outcome(self) -> str | None:
        """How the finished import ended (``ImportOutcome``); None until it is done.

        The one place the pages, the API and the list of imports read it from:
        every row imported, some skipped as invalid, or none imported.
        """
        if self.status != ImportStatus.DONE:
            return None
        if not self.imported_rows:
            return ImportOutcome.NOTHING_IMPORTED
        if self.invalid_count:
            return ImportOutcome.DONE_WITH_SKIPPED
        return ImportOutcome.DONE


class ImportRowError(TenantOwnedModel):
    """One problem with one row of an import: the per-row report."""

    job = tenant_foreign_key("inquiries.ImportJob", on_delete=models.CASCADE, related_name="+")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=200, blank=True)
    value = models.TextField(blank=True)
    message = models.CharField(max_length=500)
    severity = models.CharField(max_length=7, choices=RowProblem.choices, default=RowProblem.ERROR)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["row_number", "id"]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.message}"


class ImportMapping(TenantOwnedModel):
    """A saved column mapping, reused for the next file from the same tool."""

    name = models.CharField(max_length=100)
    mapping = models.JSONField(default=dict, blank=True)
    placeholders = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "name"], name="inquiries_mapping_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class DisqualifyReason(TenantOwnedModel):
    """The tenant's list of reasons a qualifier may give for disqualifying an inquiry."""

    label = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["label"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "label"], name="inquiries_dq_reason_uniq"),
        ]

    def __str__(self) -> str:
        return self.label


class SavedView(TenantOwnedModel):
    """A user's named inbox filter (the query string of the inbox)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    query = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    # Shown to the whole team (who may use it; only its owner changes or deletes it).
    shared = models.BooleanField(default=False)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "user", "name"], name="inquiries_saved_view_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InquiryNote(TenantOwnedModel):
    """An internal note on the person, by a member; never sent to a buyer."""

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "inquiry", "created_at"], name="inquiries_note_idx"),
        ]

    def __str__(self) -> str:
        return self.text[:50]


class InquiryTask(TenantOwnedModel):
    """A reminder on an inquiry ("call back Tuesday 10:00") for a member, due at a time."""

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.CASCADE, related_name="+")
    assignee = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(TenantOwnedModel.Meta):
        ordering = ["due_at", "id"]
        indexes = [
            # The queue of open tasks by due time; the inquiry page's list of its tasks.
            models.Index(
                fields=["tenant", "due_at"],
                condition=Q(completed_at__isnull=True),
                name="inquiries_task_open_idx",
            ),
            models.Index(fields=["tenant", "inquiry", "due_at"], name="inquiries_task_inquiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.note[:40]} {self.due_at:%Y-%m-%d %H:%M}"


class PhoneJob(BackgroundJob):
    """Parsing every stored phone again in the tenant's country, started when the country changes.

    Resumable by id like the other jobs; when done it keeps the numbers now
    shared by several inquiries (``duplicates``: E.164 → inquiry ids, oldest
    first) for the settings page to show and a qualifier to merge.
    """

    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    region = models.CharField(max_length=2, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    last_inquiry_id = models.BigIntegerField(default=0)
    duplicates = models.JSONField(default=dict, blank=True)

    class Meta(BackgroundJob.Meta):
        pass

    def __str__(self) -> str:
        return f"phones in {self.region or '-'}: {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        return 0 if not self.total else min(99, round(100 * self.done / self.total))

    @property
    def shared(self) -> int:
        return len(self.duplicates or {})


class SuggestJob(BackgroundJob):
    """Fitting a suggested definition from won and lost outcomes, in a worker with its progress.

    The fit takes tens of seconds on a real history, too long for a request.
    ``step`` and ``percent`` say how far it is; when done, ``definition_id``
    is the draft it made (a plain id: a deleted draft leaves the job's record).
    A rerun of a dead worker starts the fit again (it writes nothing until the draft).
    """

    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=20, blank=True)
    step = models.CharField(max_length=80, blank=True)
    percent = models.PositiveSmallIntegerField(default=0)
    definition_id = models.BigIntegerField(null=True, blank=True)

    class Meta(BackgroundJob.Meta):
        pass

    def __str__(self) -> str:
        return f"suggestion {self.status} {self.percent}%"
