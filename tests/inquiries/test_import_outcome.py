"""A finished import says what it did: done, done with rows skipped, or nothing imported."""

from __future__ import annotations

import pytest

from inquiries.models import ImportJob
from inquiries.services import imports
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.inquiries.test_imports import (
    csv_bytes,
    dry_run,
    import_file,
    mapped,
    person,
    upload,
)

ROWS = 30


def clean_file() -> bytes:
    return csv_bytes([person(n) for n in range(ROWS)])


def partly_invalid_file() -> bytes:
    # Every third row has neither email nor phone.
    return csv_bytes([person(n, **({"Email": ""} if n % 3 == 0 else {})) for n in range(ROWS)])


def all_invalid_file() -> bytes:
    # The names landed in the email column: not one row has a usable identity.
    return csv_bytes([person(n, Email=f"Pat Buyer{n}") for n in range(ROWS)])


def outcome_fields(body: dict) -> tuple:
    return (
        body["status"],
        body["outcome"],
        body["done_rows"],
        body["new_count"],
        body["merged_count"],
        body["invalid_count"],
        body["imported_rows"],
        body["imported_percent"],
    )


def test_a_clean_file_is_done_in_the_api(actors):
    job = import_file(actors.owner, clean_file())
    body = actors.owner.api().get(f"/api/v1/inquiries/imports/{job.pk}/").json()
    assert outcome_fields(body) == ("done", "done", 30, 30, 0, 0, 30, 100)


def test_a_partly_invalid_file_is_done_with_rows_skipped_in_the_api(actors):
    job = import_file(actors.owner, partly_invalid_file())
    body = actors.owner.api().get(f"/api/v1/inquiries/imports/{job.pk}/").json()
    assert outcome_fields(body) == ("done", "done_with_skipped", 30, 20, 0, 10, 20, 66)


def test_an_all_invalid_file_imported_nothing_in_the_api(actors):
    job = import_file(actors.owner, all_invalid_file())
    body = actors.owner.api().get(f"/api/v1/inquiries/imports/{job.pk}/").json()
    assert outcome_fields(body) == ("done", "nothing_imported", 30, 0, 0, 30, 0, 0)
    assert body["percent"] == 100  # the whole file was read; none of it imported


def test_the_api_list_carries_each_jobs_outcome(actors):
    jobs = [import_file(actors.owner, f()) for f in (clean_file, all_invalid_file)]
    waiting = upload(actors.owner, clean_file())
    listed = actors.owner.api().get("/api/v1/inquiries/imports/").json()["results"]
    assert {body["id"]: body["outcome"] for body in listed} == {
        jobs[0].pk: "done",
        jobs[1].pk: "nothing_imported",
        waiting.pk: None,
    }


def test_the_imported_share_is_rounded_down_so_a_skipped_row_never_shows_100_percent():
    job = ImportJob(status="done", total_rows=300, done_rows=300, new_count=299, invalid_count=1)
    assert (job.outcome, job.imported_percent) == ("done_with_skipped", 99)


def page_of(client, actors, job) -> str:
    client.force_login(actors.teammate.user)
    return client.get(f"/inquiries/imports/{job.pk}/").content.decode()


def test_the_page_of_a_clean_import_is_green_and_says_done(client, actors):
    page = page_of(client, actors, import_file(actors.owner, clean_file()))
    assert 'data-outcome="done"' in page
    assert "<strong>Done</strong> — imported all 30 rows" in page
    assert "30 rows read = 30 new + 0 merged + 0 skipped (invalid)" in page


def test_the_page_of_a_partly_invalid_import_is_amber_with_the_rows_skipped(client, actors):
    page = page_of(client, actors, import_file(actors.owner, partly_invalid_file()))
    assert 'class="import-progress done done_with_skipped"' in page
    assert '<span class="badge import-done_with_skipped"' in page
    assert "<strong>Done with 10 rows skipped</strong> — imported 20 of 30 rows" in page
    assert "30 rows read = 20 new + 0 merged + 10 skipped (invalid)" in page
    assert "100%" not in page


def test_the_page_of_an_all_invalid_import_is_red_and_says_nothing_was_imported(client, actors):
    page = page_of(client, actors, import_file(actors.owner, all_invalid_file()))
    assert 'class="import-progress done nothing_imported"' in page
    assert ">Nothing imported</span>" in page
    assert "<strong>Nothing imported</strong> — all 30 rows read were skipped as invalid" in page
    assert "30 rows read = 0 new + 0 merged + 30 skipped (invalid)" in page
    assert "Imported 30 of 30" not in page
    assert "100%" not in page


def test_the_progress_partial_shows_the_same_outcome(client, actors):
    job = import_file(actors.owner, all_invalid_file())
    client.force_login(actors.teammate.user)
    partial = client.get(
        f"/inquiries/imports/{job.pk}/progress/", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'data-outcome="nothing_imported"' in partial
    assert "30 rows read = 0 new + 0 merged + 30 skipped (invalid)" in partial


def test_the_list_of_imports_shows_each_outcome(client, actors):
    for make in (clean_file, partly_invalid_file, all_invalid_file):
        import_file(actors.owner, make())
    client.force_login(actors.teammate.user)
    page = client.get("/inquiries/imports/").content.decode()
    assert 'data-outcome="done">Done</span>' in page
    assert 'data-outcome="done_with_skipped">Done, 10 rows skipped</span>' in page
    assert 'data-outcome="nothing_imported">Nothing imported</span>' in page
    assert page.count('data-testid="import-imported">30 of 30 imported</span>') == 1
    assert '<span data-testid="import-imported">20 of 30 imported</span>' in page
    assert '<span data-testid="import-imported">0 of 30 imported</span>' in page


# --- A dry run that found no valid row ---------------------------------------------------


def checked(actors, content: bytes) -> ImportJob:
    return dry_run(actors.owner, mapped(actors.owner, upload(actors.owner, content)))


def test_a_dry_run_without_a_valid_row_offers_to_fix_the_mapping_not_to_start(client, actors):
    job = checked(actors, all_invalid_file())
    page = page_of(client, actors, job)
    assert 'data-testid="dry-run-nothing"' in page
    assert "No row can be imported:" in page
    assert f'href="/inquiries/imports/{job.pk}/mapping/" role="button"' in page
    assert "Start import" not in page
    assert f'action="/inquiries/imports/{job.pk}/start/"' not in page


def test_a_dry_run_with_some_invalid_rows_says_how_many_the_import_skips(client, actors):
    page = page_of(client, actors, checked(actors, partly_invalid_file()))
    assert "Import 20 valid rows, skip 10" in page
    assert 'data-testid="dry-run-nothing"' not in page


def test_an_import_whose_dry_run_found_no_valid_row_cannot_start(actors):
    job = checked(actors, all_invalid_file())
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        imports.start_import(job=job, by=actors.owner.principal)
    assert (refused.value.field, refused.value.code) == ("dry_run", "nothing_to_import")


def test_starting_it_through_the_api_is_a_400_saying_why(actors):
    job = checked(actors, all_invalid_file())
    response = actors.owner.api().post(f"/api/v1/inquiries/imports/{job.pk}/start/")
    assert response.status_code == 400
    assert "no row that can be imported" in response.json()["errors"]["dry_run"][0]
    with tenant_context(actors.tenant_a):
        assert ImportJob.objects.get(pk=job.pk).status == "analysed"


def test_a_new_mapping_clears_the_refusal(actors):
    job = checked(actors, all_invalid_file())
    job = mapped(actors.owner, job)
    with tenant_context(actors.tenant_a):
        assert imports.start_import(job=job, by=actors.owner.principal).status == "queued"
