"""Editing a choice field's choices on its page and through the API: rename, remove, add, open.

The rule for removal: a choice that inquiries still hold is refused, naming it and the count;
renaming moves the held values to the new text (into another choice: a merge).
"""

from __future__ import annotations

import pytest
from django.test import Client

from inquiries.models import CustomField, Inquiry
from inquiries.services.custom_fields import change_custom_field_choices, define_custom_field
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryFactory


@pytest.fixture
def area(actors):
    with tenant_context(actors.tenant_a):
        field = define_custom_field(
            key="area",
            label="Area",
            kind="choice",
            choices=["Brazil", "Brasil", "Chile"],
            by=actors.owner.principal,
        )
        for value in ["Brasil", "Brasil", "Chile"]:
            InquiryFactory(tenant=actors.tenant_a, custom={"area": value})
    return field


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def stored(actors) -> tuple[list[str], dict[str, int]]:
    with tenant_context(actors.tenant_a):
        field = CustomField.objects.get(key="area")
        values: dict[str, int] = {}
        for custom in Inquiry.objects.values_list("custom", flat=True):
            values[custom["area"]] = values.get(custom["area"], 0) + 1
        return field.choices, values


def change(actors, area, **kwargs):
    with tenant_context(actors.tenant_a):
        return change_custom_field_choices(field=area, by=actors.owner.principal, **kwargs)


def test_renaming_a_choice_into_another_merges_the_values(actors, area):
    change(actors, area, choices=["Brazil", "Chile"], renames={"Brasil": "Brazil"})
    assert stored(actors) == (["Brazil", "Chile"], {"Brazil": 2, "Chile": 1})


def test_renaming_alone_puts_the_new_text_in_its_place(actors, area):
    change(actors, area, renames={"Chile": "República de Chile"})
    assert stored(actors) == (
        ["Brazil", "Brasil", "República de Chile"],
        {"Brasil": 2, "República de Chile": 1},
    )


def test_removing_a_held_choice_is_refused_with_its_count(actors, area):
    with pytest.raises(RuleViolation) as refused:
        change(actors, area, choices=["Brazil", "Chile"])
    assert refused.value.code == "in_use"
    assert "“Brasil” by 2 inquiries" in refused.value.message
    assert stored(actors)[0] == ["Brazil", "Brasil", "Chile"]


def test_removing_held_choices_reads_their_counts_in_one_query_however_many(actors, area):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with tenant_context(actors.tenant_a):
        InquiryFactory(tenant=actors.tenant_a, custom={"area": "Brazil"})
    with CaptureQueriesContext(connection) as one, pytest.raises(RuleViolation):
        change(actors, area, choices=["Brazil", "Chile"])
    with CaptureQueriesContext(connection) as three, pytest.raises(RuleViolation) as refused:
        change(actors, area, choices=["Peru"])
    assert "“Brazil” by 1 inquiry, “Brasil” by 2 inquiries, “Chile” by 1 inquiry" in (
        refused.value.message
    )
    assert len(three) == len(one)


def test_removing_an_unused_choice_is_allowed(actors, area):
    change(actors, area, choices=["Brasil", "Chile"])
    assert stored(actors)[0] == ["Brasil", "Chile"]


def test_a_repeated_choice_is_refused_naming_it(actors, area):
    with pytest.raises(RuleViolation) as refused:
        change(actors, area, choices=["Brazil", "Brasil", "Chile", "chile"])
    assert refused.value.code == "duplicate" and "“chile” is listed twice" in refused.value.message


def test_a_rename_to_text_not_among_the_choices_is_refused(actors, area):
    with pytest.raises(RuleViolation) as refused:
        change(actors, area, choices=["Brazil", "Brasil", "Chile"], renames={"Chile": "Peru"})
    assert refused.value.field == "renames"
    assert stored(actors)[1] == {"Brasil": 2, "Chile": 1}


# --- The page ------------------------------------------------------------------------------


def page_form(**changes) -> dict:
    data = {
        "original_0": "Brazil",
        "choice_0": "Brazil",
        "original_1": "Brasil",
        "choice_1": "Brasil",
        "original_2": "Chile",
        "choice_2": "Chile",
        "add": "",
    }
    data.update(changes)
    return data


def url(field) -> str:
    return f"/inquiries/custom-fields/{field.pk}/choices/"


def test_the_page_lists_each_choice_with_how_many_hold_it(actors, area):
    body = client_of(actors.owner).get(url(area)).content.decode()
    assert body.count('data-testid="choice-row"') == 3
    assert 'value="Brasil"' in body and "<td>2</td>" in body
    assert (
        "Edit choices" in client_of(actors.owner).get("/inquiries/custom-fields/").content.decode()
    )


def test_the_page_renames_adds_and_opens_choices(actors, area):
    response = client_of(actors.owner).post(
        url(area), page_form(choice_1="Brazil", add="Peru\n\nArgentina", open_choices="1")
    )
    assert response.status_code == 302
    assert stored(actors) == (
        ["Brazil", "Chile", "Peru", "Argentina"],
        {"Brazil": 2, "Chile": 1},
    )
    with tenant_context(actors.tenant_a):
        assert CustomField.objects.get(pk=area.pk).open_choices is True


def test_the_page_refuses_removing_a_held_choice_and_says_why(actors, area):
    response = client_of(actors.owner).post(url(area), page_form(remove_2="1"))
    assert response.status_code == 400
    assert "“Chile” by 1 inquiry" in response.content.decode()
    assert stored(actors)[0] == ["Brazil", "Brasil", "Chile"]


def test_the_page_refuses_a_duplicate_added_choice(actors, area):
    response = client_of(actors.owner).post(url(area), page_form(add="BRAZIL"))
    assert response.status_code == 400
    assert "listed twice" in response.content.decode()


def test_another_tenants_field_choices_page_is_a_404(actors, area):
    assert client_of(actors.outsider).get(url(area)).status_code == 404
    assert client_of(actors.outsider).post(url(area), page_form()).status_code == 404


def test_the_api_renames_and_refuses_removing_a_held_choice(actors, area):
    api = actors.owner.api()
    refused = api.patch(
        f"/api/v1/custom-fields/{area.pk}/", {"choices": ["Brazil", "Brasil"]}, format="json"
    )
    assert refused.status_code == 400 and "choices" in refused.json()["errors"]
    merged = api.patch(
        f"/api/v1/custom-fields/{area.pk}/", {"renames": {"Brasil": "Brazil"}}, format="json"
    )
    assert merged.status_code == 200, merged.json()
    assert stored(actors) == (["Brazil", "Chile"], {"Brazil": 2, "Chile": 1})
