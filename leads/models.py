"""Leads: inquiries whose decision-maker booked an appointment, handed to sales."""

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


class Lead(TenantOwnedModel):
    """The lead sales works on; created only by booking an appointment.

    It carries the buyer profile and score as they were at hand-over, so later
    changes to the inquiry do not rewrite what sales received.
    """

    inquiry = tenant_foreign_key("inquiries.Inquiry", on_delete=models.PROTECT, related_name="+")
    appointment = tenant_foreign_key(
        "inquiries.Appointment", on_delete=models.PROTECT, related_name="+"
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
            models.UniqueConstraint(fields=["tenant", "inquiry"], name="leads_lead_inquiry_uniq"),
        ]
        indexes = [
            models.Index(fields=["tenant", "stage", "-created_at"], name="leads_lead_stage_idx"),
            models.Index(fields=["tenant", "rep", "stage"], name="leads_lead_rep_idx"),
        ]

    def __str__(self) -> str:
        return f"lead {self.pk} ({self.stage})"
