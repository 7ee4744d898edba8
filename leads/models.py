"""Leads and the appointments that make them: what marketing hands to sales."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from leadflow.tenancy.models import TenantOwnedModel, User, tenant_foreign_key


class LeadStage(models.TextChoices):
    AWAITING_ACCEPTANCE = "awaiting_acceptance", "Awaiting acceptance"
    ACCEPTED = "accepted", "Accepted (SAL)"
    SQL = "sql", "Sales qualified"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    POSTPONED = "postponed", "Postponed"


# A lead in one of these stages is closed: the person may be booked again.
CLOSED_STAGES = (LeadStage.WON, LeadStage.LOST, LeadStage.POSTPONED)


class Appointment(TenantOwnedModel):
    """The calendared meeting the decision-maker agreed to; booking it makes the lead.

    Open until its lead is closed; an inquiry has at most one open appointment
    and may be booked again once it is closed. The table keeps the name it had
    when appointments lived in ``inquiries``.
    """

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=30)
    rep = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
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
    profile = models.JSONField(default=dict)
    score = models.IntegerField(default=0)
    score_breakdown = models.JSONField(default=list)
    definition_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    closed_at = models.DateTimeField(null=True, blank=True)

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
            models.Index(fields=["tenant", "rep", "stage"], name="leads_lead_rep_idx"),
        ]

    def __str__(self) -> str:
        return f"lead {self.pk} ({self.stage})"

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED_STAGES
