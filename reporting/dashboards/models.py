"""Rollup tables behind the manager dashboards (issue 22): per tenant, day and dimension.

``FunnelRollup`` and ``StageTimeRollup`` hold one row per inquiry cohort day
(the day the inquiry arrived, in the tenant's time zone) and dimension
(source, campaign, partner, rep). ``LeadFact`` holds one row per lead with
its touches counted. Dimensions are plain ids, not foreign keys: a rollup row
is derived data, rebuilt from the base tables, and never blocks a delete.
``RollupState`` is the watermark job's memory; ``RollupDirtyDay`` and
``RollupDirtyLead`` are what the stage mover's hooks mark for it.
"""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from leadflow.tenancy.models import TenantOwnedModel

# The stages of an open lead (accountability's "open"); ``selectors.OPEN_STAGES`` is this.
OPEN_STAGES = ("awaiting_acceptance", "accepted", "sql")


class FunnelRollup(TenantOwnedModel):
    """Inquiries of one cohort day and dimension, and how many reached each stage."""

    day = models.DateField()
    source = models.CharField(max_length=20)
    campaign_id = models.BigIntegerField(null=True)
    partner_id = models.BigIntegerField(null=True)
    rep_id = models.BigIntegerField(null=True)
    inquiries = models.PositiveIntegerField(default=0)
    mqls = models.PositiveIntegerField(default=0)
    leads = models.PositiveIntegerField(default=0)
    sals = models.PositiveIntegerField(default=0)
    sqls = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    value_won = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # Won known only from an imported history (no lead in LeadFlow): the toggle's share.
    history_won = models.PositiveIntegerField(default=0)
    nurtured = models.PositiveIntegerField(default=0)
    nurtured_won = models.PositiveIntegerField(default=0)

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "day"], name="reporting_funnel_day_idx")]

    def __str__(self) -> str:
        return f"funnel {self.day} {self.source}"


class StageTimeRollup(TenantOwnedModel):
    """How many records of a cohort day and dimension spent ``days`` whole days in ``stage``."""

    day = models.DateField()
    source = models.CharField(max_length=20)
    campaign_id = models.BigIntegerField(null=True)
    partner_id = models.BigIntegerField(null=True)
    rep_id = models.BigIntegerField(null=True)
    stage = models.CharField(max_length=30)
    days = models.PositiveIntegerField()
    records = models.PositiveIntegerField()

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "day"], name="reporting_stagetime_day_idx")]

    def __str__(self) -> str:
        return f"{self.stage} {self.days}d ×{self.records}"


class LeadFact(TenantOwnedModel):
    """One lead as accountability reads it: owner, stage, dates and the touches on it."""

    lead_id = models.BigIntegerField()
    inquiry_id = models.BigIntegerField()
    rep_id = models.BigIntegerField(null=True)
    partner_id = models.BigIntegerField(null=True)
    stage = models.CharField(max_length=20)
    created_at = models.DateTimeField()
    assigned_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True)
    breached_at = models.DateTimeField(null=True)
    last_update_week = models.DateField(null=True)
    touches = models.PositiveIntegerField(default=0)
    last_touch_at = models.DateTimeField(null=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "lead_id"], name="reporting_leadfact_uniq"),
        ]
        indexes = [
            models.Index(fields=["tenant", "stage"], name="reporting_leadfact_stage_idx"),
            models.Index(fields=["tenant", "closed_at"], name="reporting_leadfact_closed_idx"),
            # Accountability's "breached in the period": few leads ever breach.
            models.Index(
                fields=["tenant", "breached_at"],
                name="reporting_leadfact_breach_idx",
                condition=models.Q(breached_at__isnull=False),
            ),
            # Accountability's corrections to the owner rollup ("now"-dependent figures):
            # open leads touched (or assigned) since the stale cutoff, reported leads
            # assigned since this week's cutoff or updated this week. Only recent rows.
            # Not a COALESCE: under row-level security a condition on one is not leakproof,
            # so PostgreSQL would not take it to an index.
            models.Index(
                fields=["tenant", "last_touch_at"],
                name="reporting_leadfact_touch_idx",
                condition=models.Q(stage__in=OPEN_STAGES),
            ),
            models.Index(
                fields=["tenant", "assigned_at"],
                name="reporting_leadfact_assign_idx",
                condition=models.Q(stage__in=OPEN_STAGES),
            ),
            models.Index(
                fields=["tenant", "last_update_week"],
                name="reporting_leadfact_update_idx",
                condition=models.Q(stage__in=OPEN_STAGES, last_update_week__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"lead fact {self.lead_id}"


class OwnerKind(models.TextChoices):
    OPEN = "open", "Open leads by stage and worked or not"
    BREACH = "breach", "Acceptance breaches by day"
    CLOSED = "closed", "Closed leads by month and touches"


class OwnerRollup(TenantOwnedModel):
    """Accountability per owner (rep or partner), summed from ``LeadFact``: ``leads`` facts.

    ``open`` rows: open leads per stage, ``touches`` 0 (unworked) or 1 (touched), ``day``
    empty. ``breach`` rows: leads breached on ``day`` (the tenant's zone). ``closed`` rows:
    won, lost or postponed leads closed in the month starting ``day``, ``touches`` their
    histogram bucket (0–7, 8 for 8–12, 13 for 13 and more). What depends on the clock
    (stale, missing this week) is the open rows less a few recent facts, read beside.
    """

    rep_id = models.BigIntegerField(null=True)
    partner_id = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=10, choices=OwnerKind.choices)
    stage = models.CharField(max_length=20, blank=True, default="")
    day = models.DateField(null=True)
    touches = models.PositiveSmallIntegerField(default=0)
    leads = models.PositiveIntegerField(default=0)

    class Meta(TenantOwnedModel.Meta):
        indexes = [
            models.Index(fields=["tenant", "kind", "day"], name="reporting_owner_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.day} ×{self.leads}"


class RollupState(TenantOwnedModel):
    """The watermark job's memory: the last id of each base table it has rolled up."""

    last_inquiry_id = models.BigIntegerField(default=0)
    last_stage_change_id = models.BigIntegerField(default=0)
    last_lead_id = models.BigIntegerField(default=0)
    last_touch_id = models.BigIntegerField(default=0)
    last_update_id = models.BigIntegerField(default=0)
    last_assignment_id = models.BigIntegerField(default=0)
    # Whether ``OwnerRollup`` holds the facts' sums (false until the first refresh after
    # migration 0011 writes it from the facts; the rebuild writes it too).
    owners_built = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant"], name="reporting_rollupstate_one"),
        ]

    def __str__(self) -> str:
        return f"rollup state of tenant {self.tenant_id}"


class RollupDirtyDay(TenantOwnedModel):
    """A cohort day to roll up again (marked by a hook, taken by the refresh)."""

    day = models.DateField()

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "day"], name="reporting_dirtyday_uniq"),
        ]

    def __str__(self) -> str:
        return f"dirty {self.day}"


class RollupDirtyLead(TenantOwnedModel):
    """A lead whose fact to write again (marked by a hook, taken by the refresh)."""

    lead_id = models.BigIntegerField()

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "lead_id"], name="reporting_dirtylead_uniq"),
        ]

    def __str__(self) -> str:
        return f"dirty lead {self.lead_id}"
