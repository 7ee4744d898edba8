"""Value mapping of a real CRM export: ids, countries, 1/0 outcomes, free-text choices."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from inquiries.models import CustomField, ImportMapping, Inquiry
from inquiries.selectors.import_preview import distinct_values
from inquiries.services import imports
from inquiries.services.custom_fields import define_custom_field
from inquiries.services.imports.upload import suggest_mapping
from inquiries.services.imports.values import (
    NEW_CHOICE,
    clean_value_map,
    guess_value,
    parse_outcome,
    parse_truth,
    resolve_country,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.inquiries.test_imports import mapped, run, upload

EXPORT = Path(__file__).parent / "data" / "crm_export.csv"


def export_rows() -> list[dict[str, str]]:
    with EXPORT.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- Each rule, on its own ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Germany", "DE"),
        ("germany ", "DE"),
        ("DE", "DE"),
        ("deu", "DE"),
        ("United States", "US"),
        ("USA", "US"),
        ("United States of America", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("England", "GB"),
        ("Russia", "RU"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("United Arab Emirates", "AE"),
        ("UAE", "AE"),
        ("Czech Republic", "CZ"),
        ("Ivory Coast", "CI"),
        ("Turkey", "TR"),
        ("South Korea", "KR"),
        ("Bolivia", "BO"),
    ],
)
def test_countries_are_recognised_by_name_alias_and_code(text, code):
    assert resolve_country(text) == code


@pytest.mark.parametrize("text", ["Select", "unknown", "Atlantis", "", "XX"])
def test_what_is_no_country_is_not_guessed(text):
    assert resolve_country(text) is None


@pytest.mark.parametrize(
    ("text", "truth"),
    [
        ("1", True),
        ("0", False),
        ("yes", True),
        ("No", False),
        ("TRUE", True),
        ("false", False),
        ("Y", True),
        ("n", False),
        ("Converted", True),
        ("Not converted", False),
        ("not_converted", False),
        ("maybe", None),
        ("2", None),
    ],
)
def test_yes_no_cells_as_exports_write_them(text, truth):
    assert parse_truth(text) is truth


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("1", "won"),
        ("0", "lost"),
        ("Won", "won"),
        ("Closed Lost", "lost"),
        ("converted", "won"),
        ("not converted", "lost"),
        ("yes", "won"),
        ("open", ""),
        ("In progress", ""),
        ("Select", None),
    ],
)
def test_outcomes_from_one_zero_words_and_open(text, outcome):
    assert parse_outcome(text) == outcome


@pytest.mark.parametrize(
    ("target", "text", "value"),
    [
        ("source", "Chat", "chat"),
        ("source", "web form", "web_form"),
        ("source", "Olark Chat", "chat"),
        ("source", "Chat widget", "chat"),
        ("source", "Webinar signup", "webinar"),
        ("source", "Google", None),
        ("timeline", "Within 3 months", "0-3m"),
        ("consent", "opted in", "opted_in"),
        ("country", "India", "IN"),
        ("outcome", "1", "won"),
    ],
)
def test_standard_choices_are_guessed_by_value_label_or_word(target, text, value):
    assert guess_value(target, text, {}) == value


def test_custom_yes_no_and_choice_fields_are_guessed(actors):
    with tenant_context(actors.owner.tenant):
        by = actors.owner.principal
        yes_no = define_custom_field(key="dne", label="Do not email", kind="boolean", by=by)
        area = define_custom_field(
            key="area", label="Area", kind="choice", choices=["Finance", "IT"], by=by
        )
        fields = {"dne": yes_no, "area": area}
        assert guess_value("custom.dne", "Yes", fields) == "true"
        assert guess_value("custom.dne", "0", fields) == "false"
        assert guess_value("custom.area", "finance", fields) == "Finance"
        assert guess_value("custom.area", "Peru", fields) is None
        area.open_choices = True
        assert guess_value("custom.area", "Peru", fields) == NEW_CHOICE


def test_a_value_map_names_only_allowed_values(actors):
    with tenant_context(actors.owner.tenant):
        area = define_custom_field(
            key="area", label="Area", kind="choice", choices=["Finance"], by=actors.owner.principal
        )
    fields = {"area": area}
    assert clean_value_map("S", "source", {"Google": "web_form", "Select": ""}, fields) == {
        "Google": "web_form",
        "Select": "",
    }
    assert clean_value_map("A", "custom.area", {"Peru": NEW_CHOICE}, fields) == {"Peru": NEW_CHOICE}
    with pytest.raises(RuleViolation) as refused:
        clean_value_map("S", "source", {"Google": "search_engine"}, fields)
    assert refused.value.field == "mapping.S.values"
    with pytest.raises(RuleViolation):  # a standard field takes no new choices
        clean_value_map("S", "source", {"Google": NEW_CHOICE}, fields)
    with pytest.raises(RuleViolation):
        clean_value_map("C", "country", {"Germany": "XX"}, fields)


def test_id_and_outcome_columns_of_a_crm_export_are_recognised(actors):
    headers = [
        "Prospect ID",
        "Lead Number",
        "Lead Source",
        "Converted",
        "Country",
        "Record No",
    ]
    with tenant_context(actors.owner.tenant):
        mapping = suggest_mapping(headers)
    assert mapping["Prospect ID"] == {"to": "field", "field": "external_id"}
    assert mapping["Lead Number"] == {"to": "ignore"}  # one column fills external_id
    assert mapping["Converted"] == {"to": "outcome"}
    assert mapping["Lead Source"] == {"to": "field", "field": "source"}
    assert mapping["Country"] == {"to": "field", "field": "country"}


# --- The export, end to end through the services ----------------------------------------


def crm_mapping(values=None) -> dict:
    mapping = {
        "Lead Number": {"to": "field", "field": "external_id"},
        "Lead Source": {"to": "field", "field": "source"},
        "Converted": {"to": "outcome"},
        "Country": {"to": "field", "field": "country"},
        "Specialization": {
            "to": "custom",
            "key": "specialization",
            "create": {
                "label": "Specialization",
                "kind": "choice",
                "choices": ["Finance Management", "Marketing Management", "IT Projects"],
            },
        },
    }
    for header, value_map in (values or {}).items():
        mapping[header]["values"] = value_map
    return mapping


def test_the_export_is_mapped_and_imported_without_editing_the_file(actors):
    owner = actors.owner
    job = upload(owner, EXPORT.read_bytes(), name="crm_export.csv")
    assert job.mapping["Lead Number"] == {"to": "field", "field": "external_id"}
    assert job.mapping["Converted"] == {"to": "outcome"}
    job = mapped(owner, job, crm_mapping(), placeholders=["Select"], save_as="Our CRM")
    with tenant_context(owner.tenant):
        found = distinct_values(job, ["Lead Source", "Specialization", "Converted"])
    rows = export_rows()
    assert dict(found["Converted"]) == dict(Counter(r["Converted"] for r in rows))
    assert "Select" not in dict(found["Specialization"])  # a placeholder is empty already
    assert dict(found["Specialization"])["Peru"] == sum(r["Specialization"] == "Peru" for r in rows)
    with tenant_context(owner.tenant):
        job = imports.set_value_mapping(
            job=job,
            values={
                "Lead Source": {"Google": "web_form", "Reference": "partner_referral"},
                "Specialization": {"Peru": NEW_CHOICE},
            },
            by=owner.principal,
        )
        field = CustomField.objects.get(key="specialization")
        assert field.choices[-1] == "Peru"
        assert job.mapping["Specialization"]["values"] == {"Peru": "Peru"}
        saved = ImportMapping.objects.get(name="Our CRM")
        assert saved.mapping["Lead Source"]["values"]["Google"] == "web_form"
    job = run(owner, job)
    assert (job.new_count, job.invalid_count) == (len(rows), 0)
    with tenant_context(owner.tenant):
        stored = {i.external_id: i for i in Inquiry.objects.all()}
    for row in rows:
        inquiry = stored[row["Lead Number"]]
        assert inquiry.outcome == ("won" if row["Converted"] == "1" else "lost")
        assert inquiry.country == (resolve_country(row["Country"]) or "")
        expected_source = {
            "Google": "web_form",
            "Reference": "partner_referral",
            "Olark Chat": "chat",
            "Chat widget": "chat",
        }.get(row["Lead Source"], "import")  # an unmapped value: a warning, the default
        assert inquiry.source == expected_source, row
        specialization = "" if row["Specialization"] == "Select" else row["Specialization"]
        assert inquiry.custom.get("specialization", "") == specialization


def test_a_saved_mapping_brings_its_value_maps_to_the_next_file(actors):
    owner = actors.owner
    first = mapped(owner, upload(owner, EXPORT.read_bytes()), crm_mapping(), save_as="Our CRM")
    with tenant_context(owner.tenant):
        imports.set_value_mapping(
            job=first, values={"Lead Source": {"Google": "web_form"}}, by=owner.principal
        )
        second = upload(owner, EXPORT.read_bytes())
        second = imports.reuse_mapping(
            job=second, saved=ImportMapping.objects.get(name="Our CRM"), by=owner.principal
        )
    assert second.mapping["Lead Source"]["values"] == {"Google": "web_form"}


def test_values_of_a_column_without_a_list_of_values_are_refused(actors):
    owner = actors.owner
    job = mapped(owner, upload(owner, EXPORT.read_bytes()), crm_mapping())
    with tenant_context(owner.tenant), pytest.raises(RuleViolation) as refused:
        imports.set_value_mapping(
            job=job, values={"Lead Number": {"660000": "won"}}, by=owner.principal
        )
    assert refused.value.code == "not_a_choice"
    with tenant_context(owner.tenant):
        job.refresh_from_db()
    assert "values" not in job.mapping["Lead Number"]


def test_the_api_takes_value_maps_and_refuses_a_value_not_allowed(actors):
    owner = actors.owner
    job = upload(owner, EXPORT.read_bytes())
    api = owner.api()
    url = f"/api/v1/inquiries/imports/{job.pk}/mapping/"
    mapping = {
        "Lead Number": {"to": "field", "field": "external_id"},
        "Lead Source": {"to": "field", "field": "source", "values": {"Google": "nonsense"}},
    }
    refused = api.post(url, {"mapping": mapping}, format="json")
    assert refused.status_code == 400
    assert "mapping.Lead Source.values" in refused.json()["errors"]
    mapping["Lead Source"]["values"] = {"Google": "web_form", "Direct Traffic": ""}
    accepted = api.post(url, {"mapping": mapping}, format="json")
    assert accepted.status_code == 200, accepted.json()
    with tenant_context(owner.tenant):
        job.refresh_from_db()
    assert job.mapping["Lead Source"]["values"] == {"Google": "web_form", "Direct Traffic": ""}
