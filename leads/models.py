"""Leads and the appointments that make them: what marketing hands to sales."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now

from leadflow.tenancy.models import Tenant, TenantOwnedModel, User, tenant_foreign_key


class LeadStage(models.TextChoices):
    AWAITING_ACCEPTANCE = "awaiting_acceptance", "Awaiting acceptance"
    ACCEPTED = "accepted", "Accepted (SAL)"
    SQL = "sql", "Sales qualified"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    POSTPONED = "postponed", "Postponed"
    # The meeting did not happen: the inquiry goes back to the qualifier's queue.
    NO_SHOW = "no_show", "No-show"
    # Rejected by its owner as ``not_a_lead``: the person goes back to marketing's nurture.
    REJECTED = "rejected", "Rejected (not a lead)"


# A lead in one of these stages is closed: the person may be booked again.
CLOSED_STAGES = (
    LeadStage.WON,
    LeadStage.LOST,
    LeadStage.POSTPONED,
    LeadStage.NO_SHOW,
    LeadStage.REJECTED,
)
# A lead in one of these stages is open for its owner's weekly update (accepted or SQL).
REPORTED_STAGES = (LeadStage.ACCEPTED, LeadStage.SQL)


class RejectKind(models.TextChoices):
    NOT_A_LEAD = "not_a_lead", "Not a lead (back to marketing)"
    CANNOT_SERVE = "cannot_serve", "Cannot serve (another owner, please)"


class LeadSettings(TenantOwnedModel):
    """The tenant's rules for leads; a tenant without a row uses the defaults below.

    Read it through ``leads.selectors.settings.lead_settings()``, which returns
    an unsaved row with the defaults when the tenant has not changed them.
    """

    # Business days (Monday to Friday in the tenant's time zone) an owner has to accept a lead.
    acceptance_business_days = models.PositiveSmallIntegerField(default=2)
    # The articles' rule: most buyers need 8 to 12 contacts; 90% of reps stop after 4.
    touch_minimum = models.PositiveSmallIntegerField(default=8)
    touch_cliff = models.PositiveSmallIntegerField(default=4)
    lost_reasons = models.JSONField(default=list)
    # On its date a postponed lead comes back into its owner's week, or goes to nurture.
    postponed_to_nurture = models.BooleanField(default=False)
    reminder_hours_before = models.PositiveSmallIntegerField(default=24)
    # An accepted lead with no touch or update for this many days is recalled and
    # routed again (0: never). Awaiting leads are recalled when their window lapses.
    recall_after_days = models.PositiveSmallIntegerField(default=14)
    # What one lead costs marketing (the articles: about $200), in the tenant's currency;
    # reports price unworked leads with it ("money at risk").
    cost_per_lead = models.DecimalField(max_digits=10, decimal_places=2, default=200)
    # Where a lead matching no routing rule goes; no team: round robin over the active reps.
    default_team = tenant_foreign_key(
        "leads.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The router's memory for the no-teams fallback (round robin over the active reps),
    # like ``Team.rotation``; written under this row's lock.
    rotation = models.JSONField(default=dict)
    # Deal registration: a registered buyer that becomes a lead stays the partner's this
    # many days (the router does not take it away; a recall skips it).
    protection_days = models.PositiveSmallIntegerField(default=90)
    # The articles' rule: a partner with missing updates in this many consecutive ISO weeks
    # is suspended from new leads (a warning the week before); reinstated once reported.
    suspend_after_weeks = models.PositiveSmallIntegerField(default=2)
    # On suspension, recall the partner's open leads to be routed again.
    recall_on_suspension = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant"], name="leads_settings_one_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"lead settings of tenant {self.tenant_id}"


# The reason a lead lost below the touch minimum must carry (the buyer said no).
BUYER_DECLINED = "buyer declined"
DEFAULT_LOST_REASONS = [
    BUYER_DECLINED,
    "chose a competitor",
    "no budget",
    "no decision",
    "no response",
    "not a fit",
]


class Appointment(TenantOwnedModel):
    """The calendared meeting the decision-maker agreed to; booking it makes the lead.

    Open until its lead is closed; an inquiry has at most one open appointment
    and may be booked again once it is closed. The table keeps the name it had
    when appointments lived in ``inquiries``.
    """

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=30)
    location = models.CharField(max_length=500, blank=True)
    # Internal: stays in LeadFlow (inquiry page, lead, audit, the team's email); never sent
    # to the buyer. What the buyer reads is ``message_to_buyer``.
    notes = models.TextField(blank=True)
    message_to_buyer = models.TextField(blank=True)
    uid = models.CharField(max_length=100)
    sequence = models.PositiveIntegerField(default=0)
    booked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    # Set only by confirmations sent before the outbox; they are outbox messages now.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # What became of the meeting: held, a no-show, or cancelled (with why).
    held_at = models.DateTimeField(null=True, blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta(TenantOwnedModel.Meta):
        db_table = "inquiries_appointment"
        ordering = ["-starts_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "inquiry"],
                condition=models.Q(closed_at__isnull=True),
                name="leads_appointment_one_open_per_inquiry",
            ),
        ]

    def __str__(self) -> str:
        return f"appointment {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def rep(self) -> User | None:
        """The rep at the meeting: its lead's rep, read through the lead (one query).

        The owner is stored once, on the lead: an owner change (routing,
        reassigning) writes one row, not the meeting's too (docs/architecture.md,
        "Routing's writes"). None for a partner's or an unowned lead.
        """
        return User.objects.filter(
            pk__in=Lead.objects.filter(appointment_id=self.pk).values("rep_id")
        ).first()


class Lead(TenantOwnedModel):
    """The lead sales works on; created only by booking an appointment.

    It carries the buyer profile and score as they were at hand-over, so later
    changes to the inquiry do not rewrite what sales received. An inquiry has
    at most one open lead (not won, lost or postponed); a closed lead stays as
    the person's history.
    """

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.PROTECT, related_name="+")
    appointment = tenant_foreign_key(
        "leads.Appointment", on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(
        max_length=20, choices=LeadStage.choices, default=LeadStage.AWAITING_ACCEPTANCE
    )
    rep = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The team the router chose the owner from (None: named by hand, or no teams).
    team = tenant_foreign_key(
        "leads.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    profile = models.JSONField(default=dict)
    score = models.IntegerField(default=0)
    score_breakdown = models.JSONField(default=list)
    definition_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When the current owner got it (booking, reassignment, a cannot-serve hand-back's new owner).
    assigned_at = models.DateTimeField(default=now)
    # Acceptance: due by (business days in the tenant's time zone), done at, or breached at.
    acceptance_due_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    reject_kind = models.CharField(max_length=20, choices=RejectKind.choices, blank=True)
    reject_reason = models.CharField(max_length=200, blank=True)
    # SQL: budget, authority, need and timeline as the owner recorded them.
    qualified_at = models.DateTimeField(null=True, blank=True)
    budget = models.CharField(max_length=200, blank=True)
    authority = models.CharField(max_length=200, blank=True)
    need = models.CharField(max_length=500, blank=True)
    timeline = models.CharField(max_length=200, blank=True)
    # Outcome: won (value, closed_on), lost (reason from the tenant's list), postponed (until).
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    lost_reason = models.CharField(max_length=100, blank=True)
    postponed_until = models.DateField(null=True, blank=True)
    # The latest week (its Monday) with an update: the current week's missing-update check
    # reads this column instead of probing the updates (kept by record_weekly_update).
    last_update_week = models.DateField(null=True, blank=True)
    # The weeks reported, as bits counted back from ``last_update_week`` (bit 0: that week,
    # bit k: k weeks before it): the digest's late backlog reads the lead row alone.
    reported_weeks = models.BigIntegerField(default=0, db_default=0)
    # A registered deal's lead stays with its partner until then (deal registration).
    protected_until = models.DateTimeField(null=True, blank=True)
    # The owner's next step, shown in My week.
    next_step_on = models.DateField(null=True, blank=True)
    next_step = models.CharField(max_length=200, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "inquiry"],
                condition=~models.Q(stage__in=[str(stage) for stage in CLOSED_STAGES]),
                name="leads_lead_one_open_per_inquiry",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "stage", "-created_at"], name="leads_lead_stage_idx"),
            # Every list of leads is newest first (the manager's page, /api/v1/leads/): read
            # the first page from the index instead of sorting the tenant's leads.
            models.Index(fields=["tenant", "-created_at", "-id"], name="leads_lead_newest_idx"),
            models.Index(fields=["tenant", "rep", "stage"], name="leads_lead_rep_idx"),
            models.Index(fields=["tenant", "partner", "stage"], name="leads_lead_partner_idx"),
            # The acceptance-window scan: awaiting leads not yet breached, by due time.
            models.Index(
                fields=["tenant", "acceptance_due_at"],
                name="leads_lead_acceptance_due_idx",
                condition=models.Q(stage="awaiting_acceptance", breached_at__isnull=True),
            ),
            # Missing updates per owner: the open leads with what the check reads, index only.
            models.Index(
                fields=["tenant", "rep"],
                include=["last_update_week", "assigned_at"],
                name="leads_lead_reported_owner_idx",
                condition=models.Q(stage__in=["accepted", "sql"]),
            ),
            # The Monday digest's listing: each rep's open leads in id order with what the rules
            # read, so an owner's first 25 are an index-only read that stops at the 25th.
            models.Index(
                fields=["tenant", "rep", "id"],
                include=[
                    "partner",
                    "inquiry",
                    "assigned_at",
                    "accepted_at",
                    "last_update_week",
                    "reported_weeks",
                ],
                name="leads_lead_digest_listing_idx",
                condition=models.Q(stage__in=["accepted", "sql"]),
            ),
            # The postponement scan: postponed leads by the date they come back.
            models.Index(
                fields=["tenant", "postponed_until"],
                name="leads_lead_postponed_idx",
                condition=models.Q(stage="postponed"),
            ),
        ]

    def __str__(self) -> str:
        return f"lead {self.pk} ({self.stage})"

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED_STAGES


class TouchKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    OTHER = "other", "Other"


class TouchOutcome(models.TextChoices):
    REACHED = "reached", "Reached them"
    NO_ANSWER = "no_answer", "No answer"
    LEFT_MESSAGE = "left_message", "Left a message"
    REPLIED = "replied", "They replied"
    BOUNCED = "bounced", "Bounced / wrong number"
    MEETING_SET = "meeting_set", "Meeting set"
    OTHER = "other", "Other"


class Touch(TenantOwnedModel):
    """One contact attempt (call, email, meeting, other) with the person.

    The inquiry is required and the lead optional: a qualifier's touches before
    hand-over and an owner's after it are one history. ``user`` is who made it;
    ``partner`` the partner it was made for (a partner's user or key). The
    touch minimum and the 4-touch cliff count the lead's current owner's.
    """

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.PROTECT, related_name="+")
    lead = tenant_foreign_key(
        "leads.Lead", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=TouchKind.choices)
    outcome = models.CharField(max_length=20, choices=TouchOutcome.choices)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=now)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "lead", "at"], name="leads_touch_lead_idx"),
            models.Index(fields=["tenant", "inquiry", "at"], name="leads_touch_inquiry_idx"),
            # The touches written since a time: the weekly report's facts are brought up to
            # date for the leads touched since they were last (reporting.weekly).
            models.Index(fields=["tenant", "created_at"], name="leads_touch_written_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d}"


class UpdateStatus(models.TextChoices):
    PROGRESS = "progress", "Progress"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    POSTPONED = "postponed", "Postponed"


class WeeklyUpdate(TenantOwnedModel):
    """The owner's report on one lead for one ISO week (``week`` is its Monday, tenant time).

    A note and/or a touch and/or an outcome. ``late`` when it was written after
    the week it reports on ended (clearing a backlog). ``user``/``partner``
    name the owner who reported, as on the lead at that time.
    """

    lead = tenant_foreign_key("leads.Lead", on_delete=models.PROTECT, related_name="+")
    week = models.DateField()
    status = models.CharField(max_length=10, choices=UpdateStatus.choices)
    note = models.TextField(blank=True)
    touch = tenant_foreign_key(
        "leads.Touch", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    late = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-week", "-created_at", "-id"]
        indexes = [
            # Missing-update detection: does this lead have an update for this week?
            models.Index(fields=["tenant", "lead", "week"], name="leads_update_lead_week_idx"),
            models.Index(fields=["tenant", "week"], name="leads_update_week_idx"),
        ]

    def __str__(self) -> str:
        return f"update {self.week:%G-W%V} ({self.status})"


# --- Routing: teams, rules, the record of every assignment, targets -------------------


class Team(TenantOwnedModel):
    """People who share leads by weighted round robin: reps and/or partners.

    ``rotation`` is the router's memory (``leads.routing.TeamState``'s current
    weights, keyed ``m<membership id>`` / ``p<partner id>``), written under
    the team's row lock so two bookings never take the same turn.
    """

    name = models.CharField(max_length=100)
    rotation = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                models.F("tenant"), Lower("name"), name="leads_team_tenant_name_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMember(TenantOwnedModel):
    """One place in a team: a member (rep, manager, admin) or a partner, never both.

    ``weight``: turns per round (None: 1 for a member, the tier's for a partner).
    A manager or admin in a team is told of its breaches and recalls.
    """

    team = tenant_foreign_key("leads.Team", on_delete=models.CASCADE, related_name="+")
    membership = tenant_foreign_key(
        "tenancy.Membership", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    weight = models.PositiveSmallIntegerField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["position", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(membership__isnull=True) ^ models.Q(partner__isnull=True),
                name="leads_teammember_one_kind",
            ),
            models.UniqueConstraint(
                fields=["tenant", "team", "membership"],
                condition=models.Q(membership__isnull=False),
                name="leads_teammember_member_uniq",
            ),
            models.UniqueConstraint(
                fields=["tenant", "team", "partner"],
                condition=models.Q(partner__isnull=False),
                name="leads_teammember_partner_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"team {self.team_id} member"

    @property
    def key(self) -> str:
        """The router's key: ``m<membership id>`` or ``p<partner id>``."""
        return f"m{self.membership_id}" if self.membership_id else f"p{self.partner_id}"


class RoutingRule(TenantOwnedModel):
    """A territory rule: leads matching every given criterion go to ``team``.

    Evaluated in ``position`` order, the first match wins (``leads.routing.Rule``).
    Empty lists and blank sizes mean "any". Countries are ISO codes, the rest text.
    """

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    team = tenant_foreign_key("leads.Team", on_delete=models.PROTECT, related_name="+")
    countries = models.JSONField(default=list)
    regions = models.JSONField(default=list)
    industries = models.JSONField(default=list)
    size_min = models.PositiveIntegerField(null=True, blank=True)
    size_max = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class AssignmentKind(models.TextChoices):
    BOOKED = "booked", "Routed at booking"
    NAMED = "named", "Named at booking"
    REFERRAL = "referral", "The referring partner's own"
    RECALL_UNACCEPTED = "recall_unaccepted", "Recalled: not accepted in time"
    RECALL_IDLE = "recall_idle", "Recalled: no touch or update"
    CANNOT_SERVE = "cannot_serve", "Rerouted: the owner cannot serve it"
    REASSIGNED = "reassigned", "Reassigned by a manager"
    PARTNER_SUSPENDED = "partner_suspended", "Recalled: the partner is suspended"
    PROTECTED = "protected", "The registering partner's, protected"
    ROUTED = "routed", "Routed"


class Assignment(TenantOwnedModel):
    """Why a lead went to its owner: one row per assignment, never changed.

    ``rule`` / ``team`` are the names as they were (a renamed rule does not
    rewrite history); ``turn`` is the owner's place in the team's round;
    ``skips`` lists who was passed over and why (``[{"owner": name, "reason":
    "on_leave"}, …]``). No owner (rep and partner null) means nobody was
    eligible and the lead waits for a manager.
    """

    # No foreign key of its own to the tenant (as ``inquiries.Activity``): the composite key
    # to the lead, ``(tenant_id, lead_id) → (tenant_id, id)``, already holds every record to
    # a lead of the same tenant, and so to a tenant that exists; its check at commit was a
    # third of a routing run's key checks (10,000 records a run of 10,000 leads).
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
        db_constraint=False,
    )
    lead = tenant_foreign_key("leads.Lead", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=AssignmentKind.choices)
    # The owner columns' indexes are partial (``Meta.indexes``, and the partners' in migration
    # 0014): they serve a user's or partner's deletion check, and a routing run writes 10,000
    # records whose previous owner and partner are mostly empty — no index entry for those.
    rep = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    previous_rep = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    previous_partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rule = models.CharField(max_length=100, blank=True)
    team = models.CharField(max_length=100, blank=True)
    turn = models.PositiveIntegerField(null=True, blank=True)
    skips = models.JSONField(default=list)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        # A lead's records are found by ``(tenant_id, lead_id)``, the lead key's own index
        # (``leads_assignment_lead_id_tenant_fk_idx``): a lead has a handful of them.
        indexes = [
            # What was routed since a time: the week's facts and a past report's "changes
            # since" (routing writes no per-lead audit row; its records are the trail).
            models.Index(fields=["tenant", "created_at"], name="leads_assignment_written_idx"),
            models.Index(
                fields=["rep"],
                condition=models.Q(rep__isnull=False),
                name="leads_assignment_rep_idx",
            ),
            models.Index(
                fields=["previous_rep"],
                condition=models.Q(previous_rep__isnull=False),
                name="leads_assignment_prev_rep_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment of lead {self.lead_id} ({self.kind})"


class Target(TenantOwnedModel):
    """What an owner (rep or partner) or a team should win in one quarter: value and count.

    Exactly one of ``rep``, ``partner``, ``team``; reports compare won leads with it.
    """

    year = models.PositiveSmallIntegerField()
    quarter = models.PositiveSmallIntegerField()
    rep = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    team = tenant_foreign_key(
        "leads.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-year", "-quarter", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(quarter__gte=1, quarter__lte=4), name="leads_target_quarter"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(rep__isnull=False, partner__isnull=True, team__isnull=True)
                    | models.Q(rep__isnull=True, partner__isnull=False, team__isnull=True)
                    | models.Q(rep__isnull=True, partner__isnull=True, team__isnull=False)
                ),
                name="leads_target_one_owner",
            ),
            models.UniqueConstraint(
                fields=["tenant", "year", "quarter", "rep"],
                condition=models.Q(rep__isnull=False),
                name="leads_target_rep_uniq",
            ),
            models.UniqueConstraint(
                fields=["tenant", "year", "quarter", "partner"],
                condition=models.Q(partner__isnull=False),
                name="leads_target_partner_uniq",
            ),
            models.UniqueConstraint(
                fields=["tenant", "year", "quarter", "team"],
                condition=models.Q(team__isnull=False),
                name="leads_target_team_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"target {self.year}-Q{self.quarter}"


class RegistrationStatus(models.TextChoices):
    REGISTERED = "registered", "Registered (an inquiry from the partner)"
    REFUSED = "refused", "Refused (the buyer is already owned)"
    LEAD = "lead", "Became a lead (protected)"
    CLOSED = "closed", "Closed (the inquiry was disqualified or its lead closed)"


class DealRegistration(TenantOwnedModel):
    """A buyer a partner found and registered: first to register wins.

    Accepted registrations enter as an inquiry from the partner (``inquiry``);
    if it becomes a lead the partner keeps it until ``protected_until``. A
    refused one keeps the partner's reason to read (never who owns the buyer).
    """

    partner = tenant_foreign_key("tenancy.Partner", on_delete=models.PROTECT, related_name="+")
    inquiry = tenant_foreign_key(
        "inquiries.Inquiry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    company = models.CharField(max_length=200)
    company_domain = models.CharField(max_length=253, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=2, blank=True)
    need = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=RegistrationStatus.choices, default=RegistrationStatus.REGISTERED
    )
    reason = models.CharField(max_length=300, blank=True)
    protected_until = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["tenant", "partner", "-created_at"], name="leads_dealreg_partner_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"registration of {self.company}"
