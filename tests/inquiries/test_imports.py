"""CSV import: reading usual files, the mapping, the dry run, the resumable set-based job, API."""

from __future__ import annotations

import csv
import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from inquiries.models import (
    Activity,
    CustomField,
    ImportJob,
    ImportMapping,
    ImportRowError,
    Inquiry,
)
from inquiries.selectors.scoring import compute_score
from inquiries.services import imports
from inquiries.services.custom_fields import define_custom_field
from inquiries.services.imports import dry_run as dry_run_module
from inquiries.services.imports import run as run_module
from inquiries.services.imports import writing
from inquiries.tasks import run_dry_run_task, run_import_job_task
from leadflow.celery import app
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import NoTenantSelected, tenant_context
from leadflow.tenancy.models import AuditEvent, StageChange
from tests.conftest import make_actor, transactional_databases, wait_until
from tests.factories import (
    ActivityFactory,
    CampaignFactory,
    InquiryFactory,
    LeadDefinitionFactory,
    TenantFactory,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
HEADER = ["Email", "First Name", "Last Name", "Phone", "Company", "Employees", "Country", "Webinar"]
MAPPING = {
    "Email": {"to": "field", "field": "email"},
    "First Name": {"to": "field", "field": "first_name"},
    "Last Name": {"to": "field", "field": "last_name"},
    "Phone": {"to": "field", "field": "phone"},
    "Company": {"to": "field", "field": "company"},
    "Employees": {"to": "field", "field": "company_size"},
    "Country": {"to": "field", "field": "country"},
    "Webinar": {"to": "activity", "kind": "webinar"},
}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def csv_bytes(rows, *, delimiter=",", encoding="utf-8", header=HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def person(n, **overrides):
    row = {
        "Email": f"buyer{n}@company{n}.example",
        "First Name": "Pat",
        "Last Name": f"Buyer{n}",
        "Phone": "",
        "Company": f"Company {n}",
        "Employees": "250",
        "Country": "US",
        "Webinar": "",
    }
    row.update(overrides)
    return [row[h] for h in HEADER]


def upload(actor, content: bytes, name="people.csv") -> ImportJob:
    with tenant_context(actor.tenant):
        return imports.analyse_upload(
            file=SimpleUploadedFile(name, content), file_name=name, by=actor.principal
        )


def mapped(actor, job, mapping=None, placeholders=None, **kwargs) -> ImportJob:
    with tenant_context(actor.tenant):
        return imports.set_mapping(
            job=job,
            mapping=mapping or MAPPING,
            placeholders=placeholders if placeholders is not None else [],
            by=actor.principal,
            **kwargs,
        )


def run(actor, job, **kwargs) -> ImportJob:
    with tenant_context(actor.tenant):
        if job.status == "analysed":
            job = imports.start_import(job=job, by=actor.principal)
        return imports.run_import_job(job=job, **kwargs)


def import_file(actor, content: bytes, mapping=None, **kwargs) -> ImportJob:
    return run(actor, mapped(actor, upload(actor, content), mapping), **kwargs)


def people(tenant) -> list[tuple]:
    with tenant_context(tenant):
        return list(
            Inquiry.objects.order_by("email", "phone_normalized").values_list(
                "email",
                "first_name",
                "last_name",
                "phone_normalized",
                "company",
                "company_size",
                "country",
                "custom",
                "external_id",
            )
        )


def problems(actor, job) -> list[tuple]:
    """The per-row report with each problem's severity."""
    with tenant_context(actor.tenant):
        return list(
            ImportRowError.objects.filter(job=job)
            .order_by("row_number", "id")
            .values_list("row_number", "column", "value", "message", "severity")
        )


def row_errors(actor, job) -> list[tuple]:
    with tenant_context(actor.tenant):
        return list(
            ImportRowError.objects.filter(job=job)
            .order_by("row_number", "id")
            .values_list("row_number", "column", "value", "message")
        )


# --- Reading the file --------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_each_encoding_and_delimiter_is_read(actors, encoding, delimiter):
    rows = [person(1, **{"First Name": "Zoë", "Company": "Müller & Söhne €"}), person(2)]
    job = upload(actors.owner, csv_bytes(rows, delimiter=delimiter, encoding=encoding))
    assert (job.encoding, job.delimiter, job.headers, job.total_rows) == (
        encoding,
        delimiter,
        HEADER,
        2,
    )
    job = run(actors.owner, mapped(actors.owner, job))
    assert (job.status, job.new_count, job.invalid_count) == ("done", 2, 0)
    stored = people(actors.tenant_a)
    assert (stored[0][1], stored[0][4]) == ("Zoë", "Müller & Söhne €")


def test_quoted_fields_with_embedded_newlines_are_one_row(actors):
    rows = [person(1, Company="Line one\nline two, with comma"), person(2)]
    job = import_file(actors.owner, csv_bytes(rows))
    assert (job.total_rows, job.new_count) == (2, 2)
    assert people(actors.tenant_a)[0][4] == "Line one\nline two, with comma"


def test_the_mapping_is_suggested_from_the_headers(actors):
    with tenant_context(actors.tenant_a):
        define_custom_field(key="budget", label="Budget", kind="number", by=actors.owner.principal)
    header = ["E-mail", "Job Title", "Budget", "Webinar date", "UTM campaign", "Notes"]
    job = upload(actors.owner, csv_bytes([["a@b.example", "CTO", "5", "", "", ""]], header=header))
    assert job.mapping == {
        "E-mail": {"to": "field", "field": "email"},
        "Job Title": {"to": "field", "field": "title"},
        "Budget": {"to": "custom", "key": "budget"},
        "Webinar date": {"to": "activity", "kind": "webinar"},
        "UTM campaign": {"to": "campaign"},
        "Notes": {"to": "ignore"},
    }


MALFORMED = {
    "ragged": (csv_bytes([person(1), person(2)[:5], person(3) + ["x"]]), "ragged", "row 3 has 5"),
    "unclosed quote": (
        csv_bytes([person(1)]) + b'"buyer2@x.example,Pat,Buyer,,"Company 2,250,US,\r\n',
        "malformed",
        "unclosed quote",
    ),
    "binary": (bytes(range(256)) * 40, "binary", "binary"),
    "empty": (b"", "empty", "empty"),
    "header only": (csv_bytes([]), "no_rows", "header but no rows"),
    "utf-16": ("Email,Phone\r\na@b.example,1\r\n".encode("utf-16"), "binary", "UTF-16"),
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_a_malformed_file_is_refused_and_nothing_is_kept(actors, imports_root, kind):
    content, code, message = MALFORMED[kind]
    with pytest.raises(RuleViolation) as refused:
        upload(actors.owner, content)
    assert (refused.value.field, refused.value.code) == ("file", code)
    assert message in refused.value.message
    with tenant_context(actors.tenant_a):
        assert not ImportJob.objects.exists()
        assert not Inquiry.objects.exists()
    assert not [p for p in imports_root.rglob("*") if p.is_file()]


def test_a_file_over_the_size_limit_is_refused(actors, settings):
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(RuleViolation) as refused:
        upload(actors.owner, csv_bytes([person(n) for n in range(5)]))
    assert refused.value.code == "too_large"


# --- Validation and the per-row report ----------------------------------------------------


def test_mixed_rows_skip_bad_identities_and_leave_out_bad_optional_cells(actors, frozen, path):
    rows = [
        person(1),
        person(2, Email="not-an-email", Employees="-5"),
        person(3, Country="Atlantis"),  # "Germany" is a country name the import recognises
        person(4, Phone="12", Email=""),
        person(5, **{"First Name": "x" * 101}),
        person(6, **{"Last Name": "nul\x00byte"}),
        person(7, Email="", Phone=""),
        person(8, Webinar="2031-01-01"),
        person(9, Webinar="yesterday"),
        person(10, Employees="1,200", Webinar="2026-05-01 10:30"),
    ]
    job = import_file(actors.owner, csv_bytes(rows))
    assert (job.status, job.total_rows, job.done_rows) == ("done", 10, 10)
    assert (job.new_count, job.merged_count, job.invalid_count, job.warning_count) == (7, 0, 3, 5)
    assert problems(actors.owner, job) == [
        (3, "Email", "not-an-email", "Enter a valid email address.", "error"),
        (3, "Employees", "-5", "Ensure this value is greater than or equal to 0.", "error"),
        (
            4,
            "Country",
            "Atlantis",
            '"Atlantis" is not a country code. '
            "Use a two-letter ISO 3166-1 country code, e.g. DE, US or GB.",
            "warning",
        ),
        (5, "Phone", "12", "Give a phone number of 7–15 digits, e.g. +1 555 010 2000.", "error"),
        (
            6,
            "First Name",
            "x" * 101,
            "Ensure this field has no more than 100 characters.",
            "warning",
        ),
        (7, "Last Name", "nul\u2400byte", "Null characters are not allowed.", "warning"),
        (8, "", "", "Give at least one of email, phone or external_id.", "error"),
        (9, "Webinar", "2031-01-01", "An activity cannot happen in the future.", "warning"),
        (
            10,
            "Webinar",
            "yesterday",
            "Give a date as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM.",
            "warning",
        ),
    ]
    stored = {p[0]: p for p in people(actors.tenant_a)}
    assert sorted(stored) == sorted(f"buyer{n}@company{n}.example" for n in (1, 3, 5, 6, 8, 9, 10))
    assert stored["buyer3@company3.example"][6] == ""  # the bad country left out, the rest kept
    assert stored["buyer5@company5.example"][1:3] == ("", "Buyer5")
    with tenant_context(actors.tenant_a):
        size = Inquiry.objects.get(email="buyer10@company10.example").company_size
        webinar = Activity.objects.get(kind="webinar")
    assert size == 1200
    assert webinar.occurred_at == datetime(2026, 5, 1, 10, 30, tzinfo=UTC)


def test_the_import_refuses_what_the_api_refuses_with_the_same_message(actors):
    api = actors.owner.api().post(
        "/api/v1/inquiries/", {"email": "x@y.example", "first_name": "x" * 101}, format="json"
    )
    job = import_file(actors.owner, csv_bytes([person(1, **{"First Name": "x" * 101})]))
    assert api.json()["errors"]["first_name"] == [row_errors(actors.owner, job)[0][3]]


def test_custom_field_values_are_checked_by_their_type(actors, path):
    with tenant_context(actors.tenant_a):
        define_custom_field(key="budget", label="Budget", kind="number", by=actors.owner.principal)
    header = ["Email", "Budget"]
    mapping = {"Email": MAPPING["Email"], "Budget": {"to": "custom", "key": "budget"}}
    content = csv_bytes([["a@b.example", "12.5"], ["c@d.example", "lots"]], header=header)
    job = import_file(actors.owner, content, mapping)
    assert row_errors(actors.owner, job) == [(3, "Budget", "lots", "'lots' is not a number.")]
    assert people(actors.tenant_a)[0][7] == {"budget": 12.5}


def test_placeholders_count_as_empty(actors, path):
    rows = [person(1, Phone="N/A", Employees="-", Country="select")]
    job = upload(actors.owner, csv_bytes(rows))
    job = run(actors.owner, mapped(actors.owner, job, placeholders=["N/A", "-", "Select"]))
    assert job.invalid_count == 0
    email, _first, _last, phone, _company, size, country, _custom, _ext = people(actors.tenant_a)[0]
    assert (email, phone, size, country) == ("buyer1@company1.example", "", None, "")


def test_formula_cells_are_stored_verbatim_and_neutralised_in_the_report(actors):
    rows = [
        person(1, Company='=HYPERLINK("http://evil.example","x")'),
        person(2, Company="@SUM(A1)", Email="=1+1"),
    ]
    job = import_file(actors.owner, csv_bytes(rows))
    stored = {p[0]: p[4] for p in people(actors.tenant_a)}
    assert stored == {"buyer1@company1.example": '=HYPERLINK("http://evil.example","x")'}
    response = actors.owner.api().get(f"/api/v1/inquiries/imports/{job.pk}/report/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    report = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert report == [
        ["row", "column", "value", "message", "severity"],
        ["3", "Email", "'=1+1", "Enter a valid email address.", "error"],
    ]


# --- Matching people ---------------------------------------------------------------------


def test_duplicates_within_the_file_merge_into_one_inquiry(actors, frozen, path):
    rows = [
        person(1, Phone="+1 555 010 2000", Company=""),
        person(2),
        person(1, **{"First Name": "Patricia"}, Company="Acme"),
        # Only a phone, the one of row 2, and a country.
        [""] * 3 + ["+15550102000", "", "", "DE", ""],
    ]
    job = import_file(actors.owner, csv_bytes(rows))
    assert (job.new_count, job.merged_count, job.invalid_count) == (2, 2, 0)
    stored = {p[0]: p for p in people(actors.tenant_a)}
    # Later non-empty values win, as capturing the rows one by one would do.
    assert stored["buyer1@company1.example"][1:7] == (
        "Patricia",
        "Buyer1",
        "+15550102000",
        "Acme",
        250,
        "DE",
    )


def test_rows_merge_into_stored_inquiries_by_email_external_id_or_phone(actors, path):
    by_email = InquiryFactory(tenant=actors.tenant_a, email="known@x.example", company="Old")
    by_id = InquiryFactory(tenant=actors.tenant_a, email="", external_id="crm-7", phone="")
    by_phone = InquiryFactory(
        tenant=actors.tenant_a, email="", phone="+49 30 1234567", phone_normalized="+49301234567"
    )
    header = ["Email", "CRM id", "Phone", "Company"]
    mapping = {
        "Email": MAPPING["Email"],
        "CRM id": {"to": "field", "field": "external_id"},
        "Phone": MAPPING["Phone"],
        "Company": MAPPING["Company"],
    }
    rows = [
        [" KNOWN@x.example ", "", "", "New name"],
        ["", "crm-7", "", "By id"],
        ["", "", "0049 30 1234567", "By phone"],
        ["fresh@x.example", "", "", "Fresh"],
    ]
    job = import_file(actors.owner, csv_bytes(rows, header=header), mapping)
    assert (job.new_count, job.merged_count) == (1, 3)
    with tenant_context(actors.tenant_a):
        assert Inquiry.objects.count() == 4
        companies = {i.pk: i.company for i in Inquiry.objects.all()}
        merged = Activity.objects.filter(kind="merged", inquiry=by_email).get()
    assert (companies[by_email.pk], companies[by_id.pk], companies[by_phone.pk]) == (
        "New name",
        "By id",
        "By phone",
    )
    assert merged.details["updated_fields"] == ["company"]


def test_reimporting_the_same_file_is_idempotent(actors, frozen, path):
    rows = [person(n, Webinar=f"2026-05-0{1 + n % 3}") for n in range(6)]
    rows += [person(2), person(4, Phone="+1 555 010 3000")]
    content = csv_bytes(rows)
    first = import_file(actors.owner, content)
    before = people(actors.tenant_a)
    with tenant_context(actors.tenant_a):
        activities = Activity.objects.count()
    second = import_file(actors.owner, content)
    assert (first.new_count, first.merged_count) == (6, 2)
    assert (second.new_count, second.merged_count, second.invalid_count) == (0, 8, 0)
    assert people(actors.tenant_a) == before
    with tenant_context(actors.tenant_a):
        assert Activity.objects.count() == activities
        assert not Activity.objects.filter(kind="merged").exists()


@pytest.mark.postgres
def test_the_set_based_and_the_orm_path_store_the_same(actors, frozen, monkeypatch):
    InquiryFactory(tenant=actors.tenant_a, email="buyer3@company3.example", company="Old")
    InquiryFactory(tenant=actors.tenant_b, email="buyer3@company3.example", company="Old")
    rows = [person(n % 7, Webinar=f"2026-05-{1 + n % 9:02d}", Phone="") for n in range(20)]
    rows += [person(8, Email="", Phone="+1 555 010 4000"), person(9, Email="x")]
    content = csv_bytes(rows)
    other = make_actor(actors.tenant_b, "admin")
    sql = import_file(actors.owner, content, chunk_size=8)
    monkeypatch.setattr(writing, "set_based", lambda: False)
    orm = import_file(other, content, chunk_size=8)
    counts = ("new_count", "merged_count", "invalid_count")
    assert [getattr(sql, c) for c in counts] == [getattr(orm, c) for c in counts]
    assert people(actors.tenant_a) == people(actors.tenant_b)
    timelines = []
    for tenant in (actors.tenant_a, actors.tenant_b):
        with tenant_context(tenant):
            timelines.append(
                sorted(
                    (a.inquiry.email, a.kind, a.occurred_at, a.details.get("updated_fields"))
                    for a in Activity.objects.select_related("inquiry")
                )
            )
    assert timelines[0] == timelines[1]


def scores(tenant) -> list[tuple]:
    with tenant_context(tenant):
        return list(
            Inquiry.objects.order_by("email", "phone_normalized").values_list(
                "email",
                "phone_normalized",
                "stage",
                "fit_score",
                "engagement_score",
                "score",
                "score_breakdown",
                "behaviour_level",
                "scored_at",
            )
        )


@pytest.mark.postgres
def test_the_set_based_and_the_orm_path_score_and_route_the_same(actors, frozen, monkeypatch):
    for tenant in (actors.tenant_a, actors.tenant_b):
        LeadDefinitionFactory(tenant=tenant, qualifiers=[], mql_threshold=40)
        # Known before the import, with a webinar of its own: its score counts both.
        known = InquiryFactory(tenant=tenant, email="buyer3@company3.example", company="Old")
        ActivityFactory(tenant=tenant, inquiry=known, kind="webinar", occurred_at=NOW)
    rows = [person(n % 7, Webinar=f"2026-05-{1 + n % 9:02d}", Phone="") for n in range(14)]
    # People met once, in the last chunk: scored only as they are inserted.
    rows += [person(20 + n, Webinar=f"2026-05-{1 + n:02d}", Phone="") for n in range(6)]
    rows += [person(8, Employees="2", Country="", Email="", Phone="+1 555 010 4000")]
    content = csv_bytes(rows)
    other = make_actor(actors.tenant_b, "admin")
    import_file(actors.owner, content, chunk_size=8)
    monkeypatch.setattr(writing, "set_based", lambda: False)
    import_file(other, content, chunk_size=8)
    sql, orm = scores(actors.tenant_a), scores(actors.tenant_b)
    assert sql == orm
    assert {row[2] for row in sql} == {"mql", "nurture"}


@pytest.fixture
def nurture_heard():
    """What reached the nurture stage's hooks (moved or arrived); the hook is removed after."""
    calls: list[stages.Moves] = []
    stages.on_move("inquiry", "nurture", calls.append)
    yield calls
    stages._hooks[("inquiry", "nurture")].remove(calls.append)


@pytest.mark.postgres
def test_new_inquiries_below_the_threshold_arrive_in_nurture_without_a_move(
    actors, frozen, nurture_heard, django_capture_on_commit_callbacks, path
):
    LeadDefinitionFactory(tenant=actors.tenant_a, qualifiers=[], mql_threshold=1000)
    with django_capture_on_commit_callbacks(execute=True):
        import_file(actors.owner, csv_bytes([person(n) for n in range(3)]))
    with tenant_context(actors.tenant_a):
        ids = tuple(sorted(Inquiry.objects.values_list("pk", flat=True)))
        assert set(Inquiry.objects.values_list("stage", flat=True)) == {"nurture"}
        assert not StageChange.objects.exists()
    assert [(m.ids, m.arrived) for m in nurture_heard] == [(ids, True)]


@pytest.mark.postgres
def test_a_known_inquiry_the_import_rescores_below_the_threshold_moves_with_one_history_row(
    actors, frozen, nurture_heard, django_capture_on_commit_callbacks, path
):
    LeadDefinitionFactory(tenant=actors.tenant_a, qualifiers=[], mql_threshold=1000)
    known = [
        InquiryFactory(tenant=actors.tenant_a, email=f"buyer{n}@company{n}.example", stage="mql")
        for n in range(2)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        import_file(actors.owner, csv_bytes([person(n) for n in range(3)]))
    with tenant_context(actors.tenant_a):
        history = sorted(
            StageChange.objects.values_list("object_id", "from_stage", "to_stage", "actor_label")
        )
        new = Inquiry.objects.exclude(pk__in=[k.pk for k in known]).get()
    label = history[0][3] if history else ""
    assert history == sorted((k.pk, "mql", "nurture", label) for k in known)
    assert label.startswith("import ")
    moved = [m for m in nurture_heard if not m.arrived]
    arrived = [m for m in nurture_heard if m.arrived]
    # One call on the set-based path, one per inquiry on the ORM path (score_inquiry).
    assert sorted(pk for m in moved for pk in m.ids) == sorted(k.pk for k in known)
    assert [m.ids for m in arrived] == [(new.pk,)]


def test_imported_inquiries_are_scored_and_routed(actors, frozen, path):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a, qualifiers=[], mql_threshold=40)
    rows = [person(n, Webinar="2026-05-20") for n in range(3)]
    rows += [person(5, Employees="2", Country="")]
    header = [*HEADER, "Title"]
    rows = [r + ["VP Operations" if n < 3 else "Student"] for n, r in enumerate(rows)]
    mapping = {**MAPPING, "Title": {"to": "field", "field": "title"}}
    import_file(actors.owner, csv_bytes(rows, header=header), mapping)
    with tenant_context(actors.tenant_a):
        for inquiry in Inquiry.objects.all():
            expected = compute_score(inquiry=inquiry, definition=definition, as_of=NOW)
            assert (inquiry.score, inquiry.score_breakdown, inquiry.definition_id) == (
                expected.total,
                expected.breakdown,
                definition.pk,
            )
            assert inquiry.stage == ("mql" if expected.qualifies else "nurture")
        assert {i.stage for i in Inquiry.objects.all()} == {"mql", "nurture"}


# --- Campaign column ---------------------------------------------------------------------

CAMPAIGN_MAPPING = {"Email": MAPPING["Email"], "Campaign": {"to": "campaign"}}


def campaigns_by_email(tenant) -> dict[str, str | None]:
    with tenant_context(tenant):
        return dict(Inquiry.objects.values_list("email", "campaign__name"))


def test_a_campaign_column_names_the_campaign_case_insensitively(actors):
    CampaignFactory(tenant=actors.tenant_a, name="Trade Show 2026")
    content = csv_bytes([["a@x.example", "trade show 2026"]], header=["Email", "Campaign"])
    import_file(actors.owner, content, CAMPAIGN_MAPPING)
    assert campaigns_by_email(actors.tenant_a) == {"a@x.example": "Trade Show 2026"}


def test_an_unknown_campaign_is_left_out_with_a_warning_and_the_row_is_stored(actors):
    CampaignFactory(tenant=actors.tenant_b, name="Elsewhere")  # another tenant's campaign
    rows = [["a@x.example", ""], ["b@x.example", "Elsewhere"]]
    job = import_file(actors.owner, csv_bytes(rows, header=["Email", "Campaign"]), CAMPAIGN_MAPPING)
    assert (job.new_count, job.invalid_count, job.warning_count) == (2, 0, 1)
    assert campaigns_by_email(actors.tenant_a) == {"a@x.example": None, "b@x.example": None}
    assert problems(actors.owner, job) == [
        (
            3,
            "Campaign",
            "Elsewhere",
            "No campaign named 'Elsewhere'; create it from the dry run or under Campaigns, "
            "or ignore this column.",
            "warning",
        )
    ]


@pytest.mark.parametrize("path", ["sql", "orm"])
def test_a_known_inquiry_keeps_the_first_campaign_that_reached_it(actors, monkeypatch, path):
    if path == "orm":
        monkeypatch.setattr(writing, "set_based", lambda: False)
    first = CampaignFactory(tenant=actors.tenant_a, name="Webinar")
    CampaignFactory(tenant=actors.tenant_a, name="Trade show")
    InquiryFactory(tenant=actors.tenant_a, email="known@x.example", campaign=first)
    InquiryFactory(tenant=actors.tenant_a, email="plain@x.example", campaign=None)
    rows = [["known@x.example", "Trade show"], ["plain@x.example", "Trade show"]]
    job = import_file(actors.owner, csv_bytes(rows, header=["Email", "Campaign"]), CAMPAIGN_MAPPING)
    assert campaigns_by_email(actors.tenant_a) == {
        "known@x.example": "Webinar",
        "plain@x.example": "Trade show",
    }
    with tenant_context(actors.tenant_a):
        merged = list(
            Activity.objects.filter(kind="merged").values_list(
                "inquiry__email", "details__updated_fields"
            )
        )
    assert job.merged_count == 2
    assert dict(merged) == {"plain@x.example": ["campaign"]}


# --- Mapping -----------------------------------------------------------------------------


def test_custom_field_is_created_from_the_mapping(actors, path):
    header = ["Email", "Segment"]
    mapping = {
        "Email": MAPPING["Email"],
        "Segment": {
            "to": "custom",
            "key": "segment",
            "create": {"label": "Segment", "kind": "choice", "choices": ["SMB", "Enterprise"]},
        },
    }
    content = csv_bytes([["a@b.example", "enterprise"], ["c@d.example", "Huge"]], header=header)
    job = import_file(actors.owner, content, mapping)
    with tenant_context(actors.tenant_a):
        field = CustomField.objects.get(key="segment")
        job.refresh_from_db()
    assert (field.kind, field.choices) == ("choice", ["SMB", "Enterprise"])
    assert job.mapping["Segment"] == {"to": "custom", "key": "segment"}
    assert people(actors.tenant_a)[0][7] == {"segment": "Enterprise"}
    assert row_errors(actors.owner, job) == [
        (3, "Segment", "Huge", "'Huge' is not one of: SMB, Enterprise.")
    ]


@pytest.mark.parametrize(
    ("mapping", "field", "code"),
    [
        ({"Nope": {"to": "ignore"}}, "mapping.Nope", "unknown_column"),
        ({"Email": {"to": "field", "field": "score"}}, "mapping.Email", "unknown_field"),
        ({"Email": {"to": "custom", "key": "nope"}}, "mapping.Email", "unknown_custom_field"),
        ({"Webinar": {"to": "activity", "kind": "merged"}}, "mapping.Webinar", "unknown_activity"),
        ({"Email": {"to": "somewhere"}}, "mapping.Email", "invalid"),
        ({"Email": {"to": "ignore"}}, "mapping", "identity_required"),
        (
            {"Email": MAPPING["Email"], "Phone": {"to": "field", "field": "email"}},
            "mapping.Phone",
            "duplicate_target",
        ),
    ],
)
def test_a_bad_mapping_is_refused(actors, mapping, field, code):
    job = upload(actors.owner, csv_bytes([person(1)]))
    mapping = {**{h: {"to": "ignore"} for h in HEADER}, **mapping}
    if code != "identity_required":
        mapping.setdefault("Phone", MAPPING["Phone"])
    with pytest.raises(RuleViolation) as refused:
        mapped(actors.owner, job, mapping)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_saved_mapping_is_reused_for_the_next_file(actors):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])), save_as="Trade show")
    with tenant_context(actors.tenant_a):
        saved = ImportMapping.objects.get(name="Trade show")
    second = upload(actors.owner, csv_bytes([person(2)[:-1]], header=HEADER[:-1], delimiter=";"))
    assert saved.mapping == job.mapping
    with tenant_context(actors.tenant_a):
        second = imports.reuse_mapping(job=second, saved=saved, by=actors.owner.principal)
    assert second.mapping == {h: MAPPING[h] for h in HEADER[:-1]}


def dry_run(actor, job, **kwargs) -> ImportJob:
    """Ask for the dry run, then do the worker's side of it here."""
    with tenant_context(actor.tenant):
        job = imports.request_dry_run(job=job, by=actor.principal)
        return imports.run_dry_run(job=job, **kwargs)


def test_dry_run_counts_and_writes_nothing(actors, path):
    InquiryFactory(tenant=actors.tenant_a, email="buyer1@company1.example")
    rows = [person(1), person(2), person(2), person(3, Email="bad")]
    job = mapped(actors.owner, upload(actors.owner, csv_bytes(rows)))
    job = dry_run(actors.owner, job)
    with tenant_context(actors.tenant_a):
        assert Inquiry.objects.count() == 1
        stored = ImportJob.objects.get(pk=job.pk).dry_run
    assert {k: stored[k] for k in ("state", "new", "merged", "invalid", "done_rows")} == {
        "state": "done",
        "new": 1,
        "merged": 2,
        "invalid": 1,
        "done_rows": 4,
    }
    assert stored["errors"] == [
        {
            "row": 5,
            "column": "Email",
            "value": "bad",
            "message": "Enter a valid email address.",
            "severity": "error",
        }
    ]
    assert job.dry_run == stored


def test_dry_run_counts_duplicates_across_chunks_as_one_person(actors):
    rows = [person(1), person(2), person(1), person(2), person(3)]
    job = dry_run(
        actors.owner, mapped(actors.owner, upload(actors.owner, csv_bytes(rows))), chunk_size=2
    )
    assert (job.dry_run["new"], job.dry_run["merged"]) == (3, 2)


def test_requesting_a_dry_run_queues_the_task_after_commit_and_audits(
    actors, monkeypatch, django_capture_on_commit_callbacks
):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])))
    sent = []
    monkeypatch.setattr(run_dry_run_task, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True), tenant_context(actors.tenant_a):
        job = imports.request_dry_run(job=job, by=actors.owner.principal)
        assert AuditEvent.objects.filter(action="import.dry_run_requested").count() == 1
    assert sent == [{"job_id": job.pk, "tenant_id": actors.tenant_a.pk}]
    assert (job.dry_run["state"], job.dry_run["done_rows"], job.dry_run["total_rows"]) == (
        "queued",
        0,
        1,
    )


def test_dry_run_progress_is_saved_chunk_by_chunk(actors, frozen):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(n) for n in range(5)])))
    job = dry_run(actors.owner, job, chunk_size=2, stop_after_chunks=2)
    with tenant_context(actors.tenant_a):
        stored = ImportJob.objects.get(pk=job.pk).dry_run
    assert (stored["state"], stored["done_rows"], stored["total_rows"]) == ("running", 4, 5)
    assert "new" not in stored


def test_a_running_dry_run_is_left_to_its_worker_until_it_stops_answering(actors, frozen):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(n) for n in range(5)])))
    job = dry_run(actors.owner, job, chunk_size=2, stop_after_chunks=1)
    with tenant_context(actors.tenant_a):
        assert imports.run_dry_run(job=job).dry_run["done_rows"] == 2  # the first run holds it
        with pytest.raises(RuleViolation) as refused:
            imports.request_dry_run(job=job, by=actors.owner.principal)
        assert refused.value.conflict
        frozen.shift(imports.STALE_AFTER + timedelta(seconds=1))
        job = imports.run_dry_run(job=job, chunk_size=2)
    assert (job.dry_run["state"], job.dry_run["done_rows"], job.dry_run["new"]) == ("done", 5, 5)


def test_a_second_dry_run_request_while_one_is_queued_is_a_conflict(actors):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])))
    with tenant_context(actors.tenant_a):
        imports.request_dry_run(job=job, by=actors.owner.principal)
        with pytest.raises(RuleViolation) as refused:
            imports.request_dry_run(job=job, by=actors.owner.principal)
        assert AuditEvent.objects.filter(action="import.dry_run_requested").count() == 1
    assert (refused.value.code, refused.value.conflict) == ("dry_run_running", True)


def test_a_finished_dry_run_may_be_asked_for_again(actors):
    job = dry_run(actors.owner, mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)]))))
    with tenant_context(actors.tenant_a):
        job = imports.request_dry_run(job=job, by=actors.owner.principal)
    assert job.dry_run["state"] == "queued"


def test_a_new_mapping_clears_the_dry_run(actors):
    job = dry_run(actors.owner, mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)]))))
    assert job.dry_run["state"] == "done"
    job = mapped(actors.owner, job, {"Email": {"to": "field", "field": "email"}})
    with tenant_context(actors.tenant_a):
        assert ImportJob.objects.get(pk=job.pk).dry_run is None


def test_a_mapping_changed_during_the_dry_run_discards_it(actors, monkeypatch):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(n) for n in range(4)])))
    resolve = dry_run_module.resolve

    def remap_after_the_first_chunk(rows, matcher):
        monkeypatch.setattr(dry_run_module, "resolve", resolve)
        imports.set_mapping(
            job=job, mapping=MAPPING, placeholders=["N/A"], by=actors.owner.principal
        )
        return resolve(rows, matcher)

    monkeypatch.setattr(dry_run_module, "resolve", remap_after_the_first_chunk)
    dry_run(actors.owner, job, chunk_size=2)
    with tenant_context(actors.tenant_a):
        job = ImportJob.objects.get(pk=job.pk)
    assert (job.dry_run, job.placeholders) == (None, ["N/A"])


def test_a_file_gone_missing_fails_the_dry_run_visibly(actors):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])))
    imports.stored_file(job).unlink()
    job = dry_run(actors.owner, job)
    assert job.dry_run["state"] == "failed"
    assert "No such file" in job.dry_run["error"]


def test_the_import_waits_for_a_running_dry_run(actors):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(n) for n in range(3)])))
    job = dry_run(actors.owner, job, chunk_size=1, stop_after_chunks=1)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        imports.start_import(job=job, by=actors.owner.principal)
    assert (refused.value.code, refused.value.conflict) == ("dry_run_running", True)


def test_the_dry_run_task_refuses_to_run_without_a_tenant_and_skips_a_missing_job(actors):
    with pytest.raises(NoTenantSelected):
        run_dry_run_task.delay(job_id=1)
    with pytest.raises(NoTenantSelected):
        run_dry_run_task(job_id=1)
    assert run_dry_run_task(job_id=987654, tenant_id=actors.tenant_a.pk) is None


def test_the_dry_run_task_runs_the_queued_dry_run(actors):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1), person(2)])))
    with tenant_context(actors.tenant_a):
        imports.request_dry_run(job=job, by=actors.owner.principal)
    assert run_dry_run_task(job_id=job.pk, tenant_id=actors.tenant_a.pk) == "done"
    with tenant_context(actors.tenant_a):
        assert ImportJob.objects.get(pk=job.pk).dry_run["new"] == 2
        assert AuditEvent.objects.filter(action="import.dry_run").count() == 1


# --- The job: chunks, resuming, cancelling ------------------------------------------------


def test_chunks_are_read_and_checked_in_another_process(actors, monkeypatch, tmp_path):
    """The writer's interpreter is left to the writer (``leadflow.lib.ahead``)."""
    readers = tmp_path / "readers"
    parse = run_module.parse_chunk

    def noting_the_reader(*args, **kwargs):
        with open(readers, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return parse(*args, **kwargs)

    monkeypatch.setattr(run_module, "parse_chunk", noting_the_reader)
    job = import_file(actors.owner, csv_bytes([person(n) for n in range(6)]), chunk_size=2)
    assert (job.status, job.new_count) == ("done", 6)
    pids = set(readers.read_text().split())
    assert pids and str(os.getpid()) not in pids


def test_a_reader_that_dies_fails_the_job_with_what_to_do(actors, monkeypatch):
    writer = os.getpid()
    parse = run_module.parse_chunk

    def dying_in_the_second_chunk(plan, records, width):
        if os.getpid() != writer and records[0][0] > 3:
            os._exit(9)  # as the out-of-memory killer would end it
        return parse(plan, records, width)

    monkeypatch.setattr(run_module, "parse_chunk", dying_in_the_second_chunk)
    job = import_file(actors.owner, csv_bytes([person(n) for n in range(6)]), chunk_size=2)
    assert (job.status, job.done_rows) == ("failed", 2)
    assert "Reading the file stopped unexpectedly (" in job.error
    assert "importing the same file again merges them" in job.error


def test_progress_is_committed_chunk_by_chunk(actors, frozen, path):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(n) for n in range(25)])))
    job = run(actors.owner, job, chunk_size=10, stop_after_chunks=1)
    assert (job.status, job.done_rows, job.total_rows, job.percent) == ("running", 10, 25, 40)
    assert len(people(actors.tenant_a)) == 10


def test_a_killed_and_resumed_job_ends_as_an_uninterrupted_one(actors, frozen, path):
    rows = [person(n % 17, Webinar=f"2026-05-{1 + n % 28:02d}") for n in range(40)]
    rows[7] = person(7, Email="broken")
    content = csv_bytes(rows)
    other = make_actor(actors.tenant_b, "admin")
    whole = import_file(other, content, chunk_size=6)
    job = mapped(actors.owner, upload(actors.owner, content))
    job = run(actors.owner, job, chunk_size=6, stop_after_chunks=3)
    assert (job.status, job.done_rows) == ("running", 18)
    assert run(actors.owner, job, chunk_size=6).done_rows == 18  # the first run still holds it
    frozen.shift(imports.STALE_AFTER + timedelta(seconds=1))
    job = run(actors.owner, job, chunk_size=6)
    counts = ("status", "done_rows", "new_count", "merged_count", "invalid_count")
    assert [getattr(job, c) for c in counts] == [getattr(whole, c) for c in counts]
    assert people(actors.tenant_a) == people(actors.tenant_b)
    assert [e[:2] for e in row_errors(actors.owner, job)] == [(9, "Email")]
    with tenant_context(actors.tenant_a):
        resumed = sorted(Activity.objects.values_list("kind", "occurred_at"))
    with tenant_context(actors.tenant_b):
        assert sorted(Activity.objects.values_list("kind", "occurred_at")) == resumed


def test_cancel_stops_at_a_chunk_boundary(actors, frozen, path, django_capture_on_commit_callbacks):
    rows = [person(n) for n in range(25)] + [person(30, Email="bad")]
    job = mapped(actors.owner, upload(actors.owner, csv_bytes(rows)))
    job = run(actors.owner, job, chunk_size=10, stop_after_chunks=1)
    with tenant_context(actors.tenant_a):
        job = imports.cancel_import(job=job, by=actors.owner.principal)
    assert (job.status, job.cancel_requested) == ("running", True)
    frozen.shift(imports.STALE_AFTER + timedelta(seconds=1))  # the worker died; another resumes
    with django_capture_on_commit_callbacks(execute=True):
        job = run(actors.owner, job, chunk_size=10)  # and sees the request before the next chunk
    assert (job.status, job.done_rows, job.new_count, job.invalid_count) == (
        "cancelled",
        10,
        10,
        0,
    )
    assert len(people(actors.tenant_a)) == job.new_count
    assert not imports.stored_file(job).exists()


def test_a_queued_job_is_cancelled_at_once_and_never_runs(actors, path):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])))
    with tenant_context(actors.tenant_a):
        job = imports.start_import(job=job, by=actors.owner.principal)
        job = imports.cancel_import(job=job, by=actors.owner.principal)
        assert job.status == "cancelled"
        assert imports.run_import_job(job=job).status == "cancelled"
        assert not Inquiry.objects.exists()
        with pytest.raises(RuleViolation):
            imports.cancel_import(job=job, by=actors.owner.principal)


def test_a_file_gone_missing_fails_the_job_visibly(actors):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])))
    imports.stored_file(job).unlink()
    job = run(actors.owner, job)
    assert job.status == "failed"
    assert "No such file" in job.error


def test_starting_queues_the_task_after_commit_and_audits(
    actors, monkeypatch, django_capture_on_commit_callbacks
):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])))
    sent = []
    monkeypatch.setattr(run_import_job_task, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True), tenant_context(actors.tenant_a):
        job = imports.start_import(job=job, by=actors.owner.principal)
    assert sent == [{"job_id": job.pk, "tenant_id": actors.tenant_a.pk}]
    with tenant_context(actors.tenant_a):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"import.uploaded", "import.mapped", "import.started"} <= actions


def test_the_task_refuses_to_run_without_a_tenant_and_skips_a_missing_job(actors):
    with pytest.raises(NoTenantSelected):
        run_import_job_task.delay(job_id=1)
    assert run_import_job_task(job_id=987654, tenant_id=actors.tenant_a.pk) is None


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_an_import_runs_to_the_end_on_a_real_worker(monkeypatch):
    tenant = TenantFactory(slug="import-worker")
    actor = make_actor(tenant, "marketer")
    queue = f"test-{uuid.uuid4().hex[:8]}"  # xdist workers share one Redis
    monkeypatch.setitem(app.conf, "task_default_queue", queue)
    job = mapped(actor, upload(actor, csv_bytes([person(n) for n in range(30)])))
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):
        with tenant_context(tenant):
            imports.start_import(job=job, by=actor.principal)

        def finished():
            with tenant_context(tenant):
                return ImportJob.objects.get(pk=job.pk).status == "done"

        assert wait_until(finished)
    with tenant_context(tenant):
        job = ImportJob.objects.get(pk=job.pk)
        assert Inquiry.objects.count() == 30
    assert (job.done_rows, job.new_count) == (30, 30)


# --- API -----------------------------------------------------------------------------------


def test_upload_map_dry_run_start_and_follow_through_the_api(
    actors, frozen, django_capture_on_commit_callbacks
):
    api = actors.teammate.api()
    content = csv_bytes([person(1), person(2), person(3, Email="bad")])
    created = api.post(
        "/api/v1/inquiries/imports/",
        {"file": SimpleUploadedFile("show.csv", content, content_type="text/csv")},
        format="multipart",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["status"], body["total_rows"], body["file_name"]) == ("analysed", 3, "show.csv")
    assert body["mapping"]["Email"] == {"to": "field", "field": "email"}
    url = f"/api/v1/inquiries/imports/{body['id']}/"
    mapping = api.post(
        f"{url}mapping/", {"mapping": MAPPING, "placeholders": ["N/A"]}, format="json"
    )
    assert mapping.status_code == 200, mapping.json()
    with django_capture_on_commit_callbacks(execute=False):
        queued = api.post(f"{url}dry-run/")
    assert (queued.status_code, queued.json()["dry_run"]["state"]) == (202, "queued")
    assert api.post(f"{url}dry-run/").status_code == 409
    with tenant_context(actors.tenant_a):
        imports.run_dry_run(job=ImportJob.objects.get(pk=body["id"]))
    dry = api.get(url).json()["dry_run"]
    assert (dry["state"], dry["new"], dry["merged"], dry["invalid"]) == ("done", 2, 0, 1)
    with django_capture_on_commit_callbacks(execute=False):
        started = api.post(f"{url}start/")
    assert (started.status_code, started.json()["status"]) == (202, "queued")
    with tenant_context(actors.tenant_a):
        imports.run_import_job(job=ImportJob.objects.get(pk=body["id"]))
    job = api.get(url).json()
    assert (job["status"], job["done_rows"], job["percent"]) == ("done", 3, 100)
    assert (job["new_count"], job["merged_count"], job["invalid_count"]) == (2, 0, 1)
    assert job["seconds_left"] is None
    errors = api.get(f"{url}errors/").json()
    assert errors["results"] == [
        {
            "row": 4,
            "column": "Email",
            "value": "bad",
            "message": "Enter a valid email address.",
            "severity": "error",
        }
    ]
    assert api.post(f"{url}start/").status_code == 409


def test_a_large_upload_retried_with_its_idempotency_key_is_replayed(actors, settings):
    # Bigger than the in-memory body limit: the key must not need the whole body in memory.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    content = csv_bytes([person(n) for n in range(1, 3_001)])
    assert len(content) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    api = actors.teammate.api()

    def send(data: bytes):
        return api.post(
            "/api/v1/inquiries/imports/",
            {"file": SimpleUploadedFile("big.csv", data, content_type="text/csv")},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first, again = send(content), send(content)
    assert first.status_code == 201, first.content[:300]
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert again.json()["id"] == first.json()["id"]
    other = send(content.replace(b"buyer1@", b"someone@", 1))
    assert other.status_code == 422
    with tenant_context(actors.tenant_a):
        assert ImportJob.objects.count() == 1


def test_a_bad_upload_or_mapping_is_a_400_with_field_errors(actors):
    api = actors.owner.api()
    refused = api.post(
        "/api/v1/inquiries/imports/",
        {"file": SimpleUploadedFile("x.csv", b"", content_type="text/csv")},
        format="multipart",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["file"] == ["The file is empty."]
    job = upload(actors.owner, csv_bytes([person(1)]))
    url = f"/api/v1/inquiries/imports/{job.pk}/mapping/"
    bad = api.post(url, {"mapping": {"Email": {"to": "field", "field": "score"}}}, format="json")
    assert bad.status_code == 400
    assert list(bad.json()["errors"]) == ["mapping.Email"]
    neither = api.post(url, {"placeholders": []}, format="json")
    assert (neither.status_code, list(neither.json()["errors"])) == (400, ["mapping"])


def test_a_saved_mapping_is_applied_through_the_api(actors):
    mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])), save_as="CRM export")
    api = actors.owner.api()
    saved = api.get("/api/v1/inquiries/import-mappings/").json()["results"]
    assert [m["name"] for m in saved] == ["CRM export"]
    job = upload(actors.owner, csv_bytes([person(2)]))
    response = api.post(
        f"/api/v1/inquiries/imports/{job.pk}/mapping/",
        {"saved_mapping": saved[0]["id"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["mapping"] == MAPPING


JOB_ROUTES = [
    ("get", "/api/v1/inquiries/imports/{id}/"),
    ("post", "/api/v1/inquiries/imports/{id}/mapping/"),
    ("post", "/api/v1/inquiries/imports/{id}/dry-run/"),
    ("post", "/api/v1/inquiries/imports/{id}/start/"),
    ("post", "/api/v1/inquiries/imports/{id}/cancel/"),
    ("get", "/api/v1/inquiries/imports/{id}/errors/"),
    ("get", "/api/v1/inquiries/imports/{id}/report/"),
]


@pytest.mark.parametrize(("method", "route"), JOB_ROUTES)
def test_another_tenants_import_is_404(actors, method, route):
    job = mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])))
    response = getattr(actors.outsider.api(), method)(
        route.format(id=job.pk), {"mapping": MAPPING}, format="json"
    )
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert ImportJob.objects.get(pk=job.pk).status == "analysed"


def test_another_tenants_imports_and_mappings_are_not_listed(actors):
    mapped(actors.owner, upload(actors.owner, csv_bytes([person(1)])), save_as="Mine")
    api = actors.outsider.api()
    assert api.get("/api/v1/inquiries/imports/").json()["count"] == 0
    assert api.get("/api/v1/inquiries/import-mappings/").json()["count"] == 0
    with tenant_context(actors.tenant_a):
        saved = ImportMapping.objects.get(name="Mine")
    assert api.get(f"/api/v1/inquiries/import-mappings/{saved.pk}/").status_code == 404


@pytest.mark.parametrize(("method", "route"), [("get", "/api/v1/inquiries/imports/"), *JOB_ROUTES])
def test_a_rep_may_not_import(actors, method, route):
    job = upload(actors.owner, csv_bytes([person(1)]))
    rep = make_actor(actors.tenant_a, "rep")
    assert getattr(rep.api(), method)(route.format(id=job.pk)).status_code == 403


def test_a_rep_may_not_upload(actors):
    rep = make_actor(actors.tenant_a, "rep")
    response = rep.api().post(
        "/api/v1/inquiries/imports/",
        {"file": SimpleUploadedFile("x.csv", csv_bytes([person(1)]))},
        format="multipart",
    )
    assert response.status_code == 403
    with tenant_context(actors.tenant_a):
        assert not ImportJob.objects.exists()


@pytest.mark.parametrize("jobs", [1, 4])
def test_job_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, jobs):
    for n in range(jobs):
        upload(actors.owner, csv_bytes([person(n)]))
    api = actors.owner.api()
    api.get("/api/v1/me/")
    with django_assert_num_queries(4):
        assert api.get("/api/v1/inquiries/imports/").json()["count"] == jobs


@pytest.mark.postgres
def test_a_chunk_whose_stored_inquiry_vanished_is_matched_again(actors, monkeypatch):
    InquiryFactory(tenant=actors.tenant_a, email="buyer1@company1.example")
    real = run_module.resolve
    calls = []

    def resolve_against_a_vanished_row(rows, matcher):
        resolved = real(rows, matcher)
        if not calls:  # as if a qualifier merged the inquiry away after matching
            for found in resolved.people.values():
                if found.target_id is not None:
                    found.target_id = 10**12
        calls.append(resolved)
        return resolved

    monkeypatch.setattr(run_module, "resolve", resolve_against_a_vanished_row)
    job = import_file(actors.owner, csv_bytes([person(1), person(2)]))
    assert (job.status, job.new_count, job.merged_count) == ("done", 1, 1)
    assert len(calls) == 2  # the chunk and its retry
    assert [p[0] for p in people(actors.tenant_a)] == [
        "buyer1@company1.example",
        "buyer2@company2.example",
    ]
