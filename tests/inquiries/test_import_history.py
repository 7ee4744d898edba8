"""History imports: won / lost / open with a close date and a value, on new and known people."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import StageChange
from tests.factories import InquiryFactory
from tests.inquiries.test_imports import csv_bytes, import_file, mapped, problems, run, upload

HEADER = ["Lead Number", "Converted", "Close Date", "Deal Value"]


def stored(actor) -> dict[str, tuple]:
    with tenant_context(actor.tenant):
        return {
            i.external_id: (i.outcome, i.outcome_on, i.outcome_value, i.stage)
            for i in Inquiry.objects.all()
        }


def test_the_history_columns_are_suggested(actors):
    job = upload(actors.owner, csv_bytes([["1", "1", "2026-01-02", "100"]], header=HEADER))
    assert [job.mapping[h]["to"] for h in HEADER] == [
        "field",
        "outcome",
        "outcome_date",
        "outcome_value",
    ]


def test_outcomes_close_dates_and_values_are_written(actors, path):
    rows = [
        ["L-1", "1", "2026-01-15", "12,500.00"],
        ["L-2", "0", "2026-02-01", ""],
        ["L-3", "open", "", ""],
        ["L-4", "Converted", "2026-03-31", "€ 900"],
        ["L-5", "maybe", "31/13/2026", "lots"],
    ]
    job = upload(actors.owner, csv_bytes(rows, header=HEADER))
    job = run(actors.owner, mapped(actors.owner, job, job.mapping))
    assert (job.new_count, job.invalid_count) == (5, 0)
    assert stored(actors.owner) == {
        "L-1": ("won", date(2026, 1, 15), Decimal("12500.00"), "inquiry"),
        "L-2": ("lost", date(2026, 2, 1), None, "inquiry"),
        "L-3": ("", None, None, "inquiry"),
        "L-4": ("won", date(2026, 3, 31), Decimal("900.00"), "inquiry"),
        "L-5": ("", None, None, "inquiry"),
    }
    assert [(p[0], p[1], p[4]) for p in problems(actors.owner, job)] == [
        (6, "Converted", "warning"),
        (6, "Close Date", "warning"),
        (6, "Deal Value", "warning"),
    ]


def test_a_known_person_gets_the_outcome_without_moving_a_stage(actors, path):
    with tenant_context(actors.owner.tenant):
        known = InquiryFactory(tenant=actors.owner.tenant, external_id="L-9", stage="nurture")
        moves = StageChange.objects.count()
    import_file(
        actors.owner,
        csv_bytes([["L-9", "yes", "2026-04-01", "300"]], header=HEADER),
        mapping={
            "Lead Number": {"to": "field", "field": "external_id"},
            "Converted": {"to": "outcome"},
            "Close Date": {"to": "outcome_date"},
            "Deal Value": {"to": "outcome_value"},
        },
    )
    with tenant_context(actors.owner.tenant):
        known.refresh_from_db()
        assert StageChange.objects.count() == moves
    assert (known.outcome, known.outcome_on, known.outcome_value, known.stage) == (
        "won",
        date(2026, 4, 1),
        Decimal("300.00"),
        "nurture",
    )
