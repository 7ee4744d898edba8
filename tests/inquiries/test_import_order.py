"""An import takes a person's rows together, at the first one's place in the file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries.models import Activity, ActivityKind, ImportJob, Inquiry
from inquiries.services import imports
from inquiries.services.imports.order import find_repeats, read_in_person_order
from leadflow.tenancy.context import tenant_context
from tests.inquiries.test_imports import (
    csv_bytes,
    import_file,
    mapped,
    people,
    person,
    row_errors,
    run,
    upload,
)

EMAIL = 0


def in_person_order(tmp_path, content: bytes, encoding="utf-8") -> list[tuple[int, list[str]]]:
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    repeats = find_repeats(path, encoding, ",", EMAIL, frozenset(), 10)
    return list(read_in_person_order(path, encoding, ",", repeats))


def numbers_in_order(tmp_path, content: bytes) -> list[int]:
    return [number for number, _cells in in_person_order(tmp_path, content)]


def test_a_repeat_is_taken_right_after_the_first_row_of_its_email(tmp_path):
    content = csv_bytes([person(1), person(2), person(3), person(1), person(4), person(2)])
    assert numbers_in_order(tmp_path, content) == [2, 5, 3, 7, 4, 6]


def test_emails_are_compared_trimmed_and_in_lower_case(tmp_path):
    content = csv_bytes(
        [person(1), person(2), person(1, Email=" BUYER1@Company1.example "), person(3)]
    )
    assert numbers_in_order(tmp_path, content) == [2, 4, 3, 5]


def test_placeholder_and_empty_emails_are_nobody_in_particular(tmp_path):
    content = csv_bytes(
        [person(1, Email="N/A"), person(2, Email=""), person(3, Email="n/a"), person(4, Email="")]
    )
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    repeats = find_repeats(path, "utf-8", ",", EMAIL, frozenset({"n/a"}), 4)
    assert repeats is not None and len(repeats.positions) == 0


def test_a_repeat_with_a_line_break_in_a_quoted_cell_is_read_whole(tmp_path):
    content = csv_bytes(
        [person(1), person(2), person(1, Company="Two\r\nlines, and a comma"), person(3)]
    )
    rows = in_person_order(tmp_path, content)
    assert [number for number, _cells in rows] == [2, 4, 3, 5]
    assert rows[1][1][4] == "Two\r\nlines, and a comma"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_a_repeat_is_read_in_the_file_s_encoding(tmp_path, encoding):
    content = csv_bytes(
        [person(1), person(2), person(1, **{"First Name": "Zoë €"})], encoding=encoding
    )
    rows = in_person_order(tmp_path, content, encoding)
    assert [(n, cells[0], cells[1]) for n, cells in rows] == [
        (2, "buyer1@company1.example", "Pat"),
        (4, "buyer1@company1.example", "Zoë €"),
        (3, "buyer2@company2.example", "Pat"),
    ]


def test_a_file_with_old_mac_line_ends_is_read_in_file_order(tmp_path):
    content = csv_bytes([person(1), person(2), person(1)]).replace(b"\r\n", b"\r")
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    assert find_repeats(path, "utf-8", ",", EMAIL, frozenset(), 3) is None


def test_more_rows_than_the_file_had_when_analysed_read_in_file_order(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes([person(n) for n in range(40)]))
    assert find_repeats(path, "utf-8", ",", EMAIL, frozenset(), 1) is None


# --- The import ---------------------------------------------------------------------------


def test_a_person_repeated_chunks_apart_is_written_once_with_the_later_values(actors, path):
    rows = [person(1), person(2), person(3), person(4), person(1, Country="DE")]
    job = import_file(actors.owner, csv_bytes(rows), chunk_size=2)
    assert (job.status, job.new_count, job.merged_count) == ("done", 4, 1)
    with tenant_context(actors.tenant_a):
        inquiry = Inquiry.objects.get(email="buyer1@company1.example")
        assert inquiry.country == "DE"
        # Merged in memory with the first row and inserted once; the one "merged"
        # entry is the repeat's change, with its row.
        [merged] = Activity.objects.filter(inquiry=inquiry, kind=ActivityKind.MERGED)
    assert merged.details["changes"] == [
        {"row": 6, "field": "country", "label": "country", "old": "US", "new": "DE"}
    ]


def test_an_invalid_repeat_is_reported_under_its_own_row_number(actors, path):
    rows = [person(1), person(2), person(3), person(1, Phone="12")]
    job = import_file(actors.owner, csv_bytes(rows), chunk_size=2)
    assert (job.new_count, job.invalid_count) == (3, 1)
    assert [(number, column) for number, column, _v, _m in row_errors(actors.owner, job)] == [
        (5, "Phone")
    ]


def test_a_run_resumed_with_another_chunk_size_writes_every_row_once(actors, path):
    rows = [person(n % 7, Country=("DE" if n >= 7 else "US")) for n in range(12)]
    job = mapped(actors.owner, upload(actors.owner, csv_bytes(rows)))
    job = run(actors.owner, job, chunk_size=3, stop_after_chunks=2)
    assert job.done_rows == 6
    with tenant_context(actors.tenant_a):  # the first run stopped answering
        ImportJob.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - imports.STALE_AFTER - timedelta(seconds=1)
        )
    job = run(actors.owner, job, chunk_size=5)
    assert (job.status, job.done_rows, job.new_count, job.merged_count) == ("done", 12, 7, 5)
    countries = {email: country for email, _f, _l, _p, _c, _s, country, *_ in people(job.tenant)}
    assert len(countries) == 7
    assert all(countries[f"buyer{n}@company{n}.example"] == "DE" for n in range(5))
    assert countries["buyer6@company6.example"] == "US"
