"""Nurture: keeping not-ready inquiries warm instead of dropping them.

Nurture learns who reaches the nurture stage from the stage mover
(``leadflow/lib/stages.py``): ``NurtureConfig.ready()`` registers
:func:`inquiries_reached_nurture` for the inquiry machine's ``nurture``
stage, so ``inquiries`` moves people there without importing this app.
"""

from __future__ import annotations

import logging

from leadflow.lib import stages

logger = logging.getLogger(__name__)

INQUIRY_MACHINE = "inquiry"
NURTURE_STAGE = "nurture"


def inquiries_reached_nurture(moves: stages.Moves) -> None:
    """Called after commit with the inquiries moved to nurture, or created there by an import.

    The seam where enrolment in nurture programs (scheduled emails, tasks)
    is built by the nurture feature; today there is no program to enrol in,
    nothing is sent, and the hand-over is logged at debug level (a
    rescoring moves hundreds a batch).
    """
    if not logger.isEnabledFor(logging.DEBUG):
        return
    logger.debug(
        "%s inquiries reached nurture (%s)",
        len(moves.ids),
        "created there" if moves.arrived else "moved",
        extra={"tenant_id": moves.tenant_id, "inquiry_ids": list(moves.ids)},
    )


def register() -> None:
    """Hook nurture to the inquiry's nurture stage (from ``NurtureConfig.ready()``)."""
    stages.on_move(INQUIRY_MACHINE, NURTURE_STAGE, inquiries_reached_nurture)
