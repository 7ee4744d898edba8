"""Nurture: keeping not-ready inquiries warm instead of dropping them.

Nurture learns who reaches and leaves the nurture stage from the stage mover
(``leadflow/lib/stages.py``): ``NurtureConfig.ready()`` registers
:func:`inquiries_reached_nurture` for the inquiry machine's ``nurture`` stage
and :func:`inquiries_left_nurture` for ``mql``, ``lead`` and
``disqualified``, so ``inquiries`` moves people without importing this app.
The work is in the modules of this package (programs, enrollment, consent,
scheduler, bounces).
"""

from __future__ import annotations

import logging

from django.db import transaction

from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from nurture.models import ExitReason
from nurture.services.consent import request_confirmations
from nurture.services.enrollment import enroll_matching, exit_enrollments, reason_of_move

logger = logging.getLogger(__name__)

INQUIRY_MACHINE = "inquiry"
NURTURE_STAGE = "nurture"
# Leaving nurture for these stages ends the enrollment, with this reason.
EXITS = {
    "mql": ExitReason.BECAME_MQL,
    "lead": ExitReason.BOOKED,
    "disqualified": ExitReason.DISQUALIFIED,
}


def inquiries_reached_nurture(moves: stages.Moves) -> None:
    """After commit: enroll the inquiries moved to (or created in) nurture.

    Each goes to the first program whose audience fits (reason: where they
    came from), else the long-term program.
    """
    by_label = moves.by.label if moves.by is not None else "stage mover"
    reasons = {pk: reason_of_move(moves.from_stages.get(pk), moves.reason) for pk in moves.ids}
    with tenant_context(moves.tenant_id), transaction.atomic():
        # Double opt-in (when on): public-form opt-ins become pending first, never mailed.
        request_confirmations(inquiry_ids=moves.ids)
        enrolled = enroll_matching(inquiry_ids=moves.ids, reasons=reasons, by_label=by_label)
    logger.debug(
        "%s inquiries reached nurture (%s), %s enrolled",
        len(moves.ids),
        "created there" if moves.arrived else "moved",
        enrolled,
        extra={"tenant_id": moves.tenant_id, "inquiry_ids": list(moves.ids)},
    )


def inquiries_left_nurture(moves: stages.Moves) -> None:
    """After commit: people who became MQL, booked, or were disqualified leave their program."""
    with tenant_context(moves.tenant_id), transaction.atomic():
        exit_enrollments(inquiry_ids=moves.ids, reason=EXITS[moves.to])


def register() -> None:
    """Hook nurture to the inquiry's stages (from ``NurtureConfig.ready()``)."""
    stages.on_move(INQUIRY_MACHINE, NURTURE_STAGE, inquiries_reached_nurture)
    for stage in EXITS:
        stages.on_move(INQUIRY_MACHINE, stage, inquiries_left_nurture)
