"""The stage mover's hooks: a move marks what the next rollup refresh rewrites.

Registered in ``ReportingConfig.ready()`` for every stage of the inquiry's and
the lead's machines (arrivals included). A hook only marks (one small insert
after the move's commit); the refresh job does the rewriting, so a move never
waits for a rollup. The refresh's watermark catches a move whose mark was
lost, since every move also writes a ``StageChange`` row.
"""

from __future__ import annotations

from leadflow.lib import edits, stages
from leadflow.tenancy.context import tenant_context


def on_inquiry_move(moves: stages.Moves) -> None:
    from reporting.dashboards.services import mark_inquiries_moved

    with tenant_context(moves.tenant_id):
        mark_inquiries_moved(inquiry_ids=moves.ids)


def on_lead_move(moves: stages.Moves) -> None:
    from reporting.dashboards.services import mark_leads_moved

    with tenant_context(moves.tenant_id):
        mark_leads_moved(lead_ids=moves.ids)


# The edits that change what a rollup holds: an inquiry's dimensions (source, campaign,
# partner), its imported outcome, a merge (the others leave their cohorts); a lead's owner.
INQUIRY_FIELDS = frozenset({"source", "campaign", "partner", "outcome", "outcome_value", "merged"})
LEAD_FIELDS = frozenset({"rep", "partner", "value", "closed_at", "breached_at"})


def on_inquiry_edit(changes: edits.Edits) -> None:
    from reporting.dashboards.services import mark_inquiries_edited

    if changes.fields & INQUIRY_FIELDS:
        with tenant_context(changes.tenant_id):
            mark_inquiries_edited(inquiry_ids=changes.ids, arrived=changes.arrived)


def on_lead_edit(changes: edits.Edits) -> None:
    from reporting.dashboards.services import mark_leads_moved

    if changes.fields & LEAD_FIELDS:
        with tenant_context(changes.tenant_id):
            mark_leads_moved(lead_ids=changes.ids)


def register() -> None:
    edits.on_edit("inquiry", on_inquiry_edit)
    edits.on_edit("lead", on_lead_edit)
    for stage in stages.machine("inquiry").stages:
        stages.on_move("inquiry", stage, on_inquiry_move)
    for stage in stages.machine("lead").stages:
        stages.on_move("lead", stage, on_lead_move)
