"""Nurture: keeping not-ready inquiries warm instead of dropping them."""

from __future__ import annotations

from django.utils import timezone

from inquiries.models import Inquiry, Stage


def flag_for_nurture(*, inquiry_ids: list[int], already_in_stage: bool = False) -> int:
    """Hand inquiries below the MQL threshold to nurture; returns how many moved.

    The one entry point for "not ready yet": today it moves the inquiries to
    the nurture stage, where they stay visible and are rescored on every
    activity. Enrolment in nurture programs (scheduled emails, tasks) is built
    behind this function by the nurture feature; nothing is sent from here.

    ``already_in_stage``: a bulk writer (the CSV import) wrote these
    inquiries directly in the nurture stage, scored, rather than writing every
    row twice; there is nothing to move, but they are handed over all the same,
    so whatever follows the move applies to them too.
    """
    if already_in_stage:
        return 0
    return Inquiry.objects.filter(pk__in=inquiry_ids, stage__in=(Stage.INQUIRY, Stage.MQL)).update(
        stage=Stage.NURTURE, updated_at=timezone.now()
    )
