"""Open choices: editable choices, an option to take new values, an unknown value a warning."""

from __future__ import annotations

from inquiries.models import CustomField, Inquiry
from inquiries.services import imports
from inquiries.services.custom_fields import define_custom_field
from inquiries.services.imports.values import guess_values
from leadflow.tenancy.context import tenant_context
from tests.inquiries.test_imports import csv_bytes, import_file, mapped, problems, run, upload

HEADER = ["Lead Number", "Area"]
MAPPING = {
    "Lead Number": {"to": "field", "field": "external_id"},
    "Area": {"to": "custom", "key": "area"},
}


def area(actors, **kwargs):
    with tenant_context(actors.owner.tenant):
        return define_custom_field(
            key="area",
            label="Area",
            kind="choice",
            choices=["Brazil", "Chile"],
            by=actors.owner.principal,
            **kwargs,
        )


def test_an_unknown_value_is_a_warning_and_the_row_is_kept(actors):
    area(actors)
    job = import_file(
        actors.owner, csv_bytes([["1", "Peru"], ["2", "Chile"]], header=HEADER), MAPPING
    )
    assert (job.new_count, job.invalid_count, job.warning_count) == (2, 0, 1)
    assert [(p[1], p[2], p[4]) for p in problems(actors.owner, job)] == [
        ("Area", "Peru", "warning")
    ]


def test_the_choices_are_edited_and_opened_through_the_api(actors):
    field = area(actors)
    api = actors.owner.api()
    response = api.patch(
        f"/api/v1/custom-fields/{field.pk}/",
        {"choices": ["Brazil", "Chile", "Peru"], "open_choices": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["choices"], response.json()["open_choices"]) == (
        ["Brazil", "Chile", "Peru"],
        True,
    )
    bad = api.patch(f"/api/v1/custom-fields/{field.pk}/", {"choices": ["A", "a"]}, format="json")
    assert bad.status_code == 400
    assert "choices" in bad.json()["errors"]
    empty = api.patch(f"/api/v1/custom-fields/{field.pk}/", {}, format="json")
    assert empty.status_code == 400
    with tenant_context(actors.owner.tenant):
        assert CustomField.objects.get(pk=field.pk).choices == ["Brazil", "Chile", "Peru"]


def test_another_tenants_field_is_404(actors):
    field = area(actors)
    response = actors.outsider.api().patch(
        f"/api/v1/custom-fields/{field.pk}/", {"choices": ["X"]}, format="json"
    )
    assert response.status_code == 404


def test_an_open_field_takes_a_new_value_on_the_value_step(actors):
    area(actors, open_choices=True)
    job = upload(actors.owner, csv_bytes([["1", "Peru"], ["2", "Chile"]], header=HEADER))
    job = mapped(actors.owner, job, MAPPING)
    with tenant_context(actors.owner.tenant):
        fields = {f.key: f for f in CustomField.objects.all()}
        guesses = guess_values("custom.area", [("Peru", 1), ("Chile", 1)], fields)
        assert guesses == {"Peru": "+new", "Chile": "Chile"}
        job = imports.set_value_mapping(
            job=job, values={"Area": guesses}, by=actors.owner.principal
        )
    run(actors.owner, job)
    with tenant_context(actors.owner.tenant):
        assert sorted(Inquiry.objects.values_list("custom__area", flat=True)) == ["Chile", "Peru"]
        assert CustomField.objects.get(key="area").choices == ["Brazil", "Chile", "Peru"]
