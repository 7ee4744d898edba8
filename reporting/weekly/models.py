"""The weekly report's tables: one immutable snapshot per tenant and ISO week, its lines, settings.

A snapshot is written once (``reporting.weekly.services.generate_weekly_report``)
and never changed: a database trigger refuses any UPDATE of a report or a
line (PostgreSQL). What changed after it is computed beside it, never written
into it.
"""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from leadflow.tenancy.models import TenantOwnedModel, User, tenant_foreign_key


class ReportSettings(TenantOwnedModel):
    """When the Monday report is generated and who gets it; a tenant without a row uses these."""

    # Monday at this hour (0–23) in the tenant's time zone the last week's report is made.
    hour = models.PositiveSmallIntegerField(default=8)
    email_managers = models.BooleanField(default=True)
    email_owners = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant"], name="reporting_settings_one_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"report settings of tenant {self.tenant_id}"


class WeeklyReport(TenantOwnedModel):
    """The snapshot of one ISO week (``week`` is its Monday, tenant time), made once."""

    week = models.DateField()
    generated_at = models.DateTimeField(default=now)
    # The tenant's zone when it was made: the week's boundaries were its midnights.
    timezone = models.CharField(max_length=64)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-week"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "week"], name="reporting_weekly_one_per_week"
            ),
        ]

    def __str__(self) -> str:
        return f"weekly report {self.week:%G-W%V}"


class LineScope(models.TextChoices):
    TENANT = "tenant", "Everyone"
    TEAM = "team", "Team"
    REP = "rep", "Rep"
    PARTNER = "partner", "Partner"


class WeeklyReportLine(TenantOwnedModel):
    """One owner's (rep, partner), one team's or the tenant's figures of the week.

    Each figure keeps the ids of the leads behind it (``*_ids``, JSON lists),
    so every number links to its leads and "changes since" compares sets.
    ``lost_reasons`` and ``postponed_until`` run beside ``lost_ids`` and
    ``postponed_ids`` (one entry per lead).
    """

    report = tenant_foreign_key(
        "reporting.WeeklyReport", on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(max_length=10, choices=LineScope.choices)
    rep = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The team's id, not a relation: a team may be deleted while its past lines stay (with
    # ``name``), and a snapshot line is never updated (so no key could be set to null).
    team_id = models.BigIntegerField(null=True, blank=True)
    # The owner's or team's name when the snapshot was made (people shown by name).
    name = models.CharField(max_length=200, blank=True)
    won_count = models.PositiveIntegerField(default=0)
    won_value = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    won_ids = models.JSONField(default=list)
    # Won in the quarter so far (its first day to the week's end) and the quarter's target.
    quarter_won_count = models.PositiveIntegerField(default=0)
    quarter_won_value = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    target_count = models.PositiveIntegerField(null=True, blank=True)
    target_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    lost_count = models.PositiveIntegerField(default=0)
    lost_ids = models.JSONField(default=list)
    lost_reasons = models.JSONField(default=list)
    postponed_count = models.PositiveIntegerField(default=0)
    postponed_ids = models.JSONField(default=list)
    postponed_until = models.JSONField(default=list)
    progressed_count = models.PositiveIntegerField(default=0)
    progressed_ids = models.JSONField(default=list)
    touches = models.PositiveIntegerField(default=0)
    breach_count = models.PositiveIntegerField(default=0)
    breach_ids = models.JSONField(default=list)
    missing_count = models.PositiveIntegerField(default=0)
    missing_ids = models.JSONField(default=list)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tenant", "report", "scope"], name="reporting_line_report_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} line of report {self.report_id}"


class WeekFact(TenantOwnedModel):
    """One lead's place in one week's figures, kept up to date until the week's snapshot.

    The per-lead pass of the figures (``reporting.weekly.selectors.sql``) written
    down: filled once for a week, then rewritten only for the leads changed since
    (the same changes "changes since" reads: stage moves, audited edits, updates,
    touches), so the Monday snapshot adds up narrow rows instead of joining every
    lead with its week's touches and updates. A week's rows are deleted once its
    snapshot exists (the snapshot's lines keep the figures and their leads).
    """

    week = models.DateField()
    lead_id = models.BigIntegerField()
    rep_id = models.BigIntegerField(null=True)
    partner_id = models.BigIntegerField(null=True)
    team_id = models.BigIntegerField(null=True)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    lost_reason = models.CharField(max_length=100, blank=True)
    postponed_until = models.DateField(null=True)
    # 1 when the lead is in the figure, else 0 (summed as they are).
    won = models.SmallIntegerField(default=0)
    qwon = models.SmallIntegerField(default=0)
    lost = models.SmallIntegerField(default=0)
    postponed = models.SmallIntegerField(default=0)
    progressed = models.SmallIntegerField(default=0)
    breached = models.SmallIntegerField(default=0)
    missing = models.SmallIntegerField(default=0)
    touches = models.IntegerField(default=0)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "week", "lead_id"], name="reporting_weekfact_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"lead {self.lead_id} in week {self.week}"


class WeekFactState(TenantOwnedModel):
    """When a week's facts (:class:`WeekFact`) were last brought up to date; none: not filled."""

    week = models.DateField()
    refreshed_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "week"], name="reporting_weekfactstate_one"),
        ]

    def __str__(self) -> str:
        return f"facts of week {self.week} as of {self.refreshed_at}"
