"""The custom fields page: which rules use a field, rename keeps the data, delete is refused
while a rule reads the field."""

import pytest

from inquiries.models import CustomField, Inquiry
from inquiries.services.custom_fields import delete_custom_field, rename_custom_field
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryFactory, LeadDefinitionFactory


@pytest.fixture
def fleet(actors):
    with tenant_context(actors.tenant_a):
        return CustomField.objects.create(
            tenant=actors.tenant_a, key="fleet_size", label="Fleet size", kind="number"
        )


@pytest.fixture
def rule_on_fleet(actors):
    return LeadDefinitionFactory(
        tenant=actors.tenant_a,
        version=3,
        status="draft",
        fit_rules=[
            {
                "field": "custom.fleet_size",
                "op": "range",
                "value": [100, None],
                "points": 20,
                "label": "Fleet 100+",
            }
        ],
    )


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


def test_renaming_keeps_every_value(actors, fleet):
    person = InquiryFactory(tenant=actors.tenant_a, custom={"fleet_size": 120})
    with tenant_context(actors.tenant_a):
        rename_custom_field(field=fleet, label="Trucks", by=actors.teammate.principal)
        assert CustomField.objects.get(pk=fleet.pk).label == "Trucks"
        assert Inquiry.objects.get(pk=person.pk).custom == {"fleet_size": 120}


def test_deleting_a_field_a_rule_reads_is_refused_naming_the_rule(actors, fleet, rule_on_fleet):
    with tenant_context(actors.tenant_a):
        with pytest.raises(RuleViolation) as refused:
            delete_custom_field(field=fleet, by=actors.teammate.principal)
        assert CustomField.objects.filter(pk=fleet.pk).exists()
    assert "“Fleet 100+” of version 3 (draft)" in refused.value.message


def test_a_field_no_rule_reads_is_deleted(actors, fleet):
    LeadDefinitionFactory(
        tenant=actors.tenant_a,
        version=1,
        status="retired",
        fit_rules=[{"field": "custom.fleet_size", "op": "is_set", "points": 1}],
    )
    with tenant_context(actors.tenant_a):
        delete_custom_field(field=fleet, by=actors.teammate.principal)
        assert not CustomField.objects.filter(pk=fleet.pk).exists()


def test_the_page_shows_the_rules_using_a_field(marketer_client, fleet, rule_on_fleet):
    content = marketer_client.get("/inquiries/custom-fields/").content.decode()
    assert "“Fleet 100+”" in content and "v3 (draft)" in content


def test_rename_and_refused_delete_from_the_page(actors, marketer_client, fleet, rule_on_fleet):
    response = marketer_client.post(
        f"/inquiries/custom-fields/{fleet.pk}/rename/", {"label": "Trucks"}, follow=True
    )
    assert "“Fleet size” is now “Trucks”" in response.content.decode()
    response = marketer_client.post(f"/inquiries/custom-fields/{fleet.pk}/delete/", follow=True)
    assert "used by the rule “Fleet 100+”" in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert CustomField.objects.filter(pk=fleet.pk).exists()


def test_a_blank_label_is_refused(actors, marketer_client, fleet):
    response = marketer_client.post(
        f"/inquiries/custom-fields/{fleet.pk}/rename/", {"label": " "}, follow=True
    )
    assert "Give a label of 1–100 characters." in response.content.decode()


@pytest.mark.parametrize("action", ["rename", "delete", "required"])
def test_another_tenants_field_is_404(actors, client, fleet, action):
    client.force_login(actors.outsider.user)
    response = client.post(f"/inquiries/custom-fields/{fleet.pk}/{action}/", {"label": "X"})
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert CustomField.objects.get(pk=fleet.pk).label == "Fleet size"


def test_the_page_query_count_does_not_grow_with_fields(
    actors, marketer_client, rule_on_fleet, django_assert_max_num_queries
):
    with tenant_context(actors.tenant_a):
        CustomField.objects.create(tenant=actors.tenant_a, key="a1", label="A1", kind="text")
    with django_assert_max_num_queries(12) as few:
        marketer_client.get("/inquiries/custom-fields/")
    with tenant_context(actors.tenant_a):
        for n in range(10):
            CustomField.objects.create(
                tenant=actors.tenant_a, key=f"b{n}", label=f"B{n}", kind="text"
            )
    with django_assert_max_num_queries(len(few.captured_queries)):
        marketer_client.get("/inquiries/custom-fields/")


def test_a_required_field_must_be_answered_on_the_public_form(
    actors, marketer_client, fleet, client
):
    from inquiries.services.custom_fields import set_custom_field_on_public_form

    with tenant_context(actors.tenant_a):
        set_custom_field_on_public_form(
            field=fleet, on_public_form=True, by=actors.teammate.principal
        )
    response = marketer_client.post(
        f"/inquiries/custom-fields/{fleet.pk}/required/", {"required": "1"}, follow=True
    )
    assert "“Fleet size” is now required on the public form." in response.content.decode()
    form = client.get(f"/f/{actors.tenant_a.slug}/").content.decode()
    assert (
        'name="custom__fleet_size"' in form
        and "required" in form.split('name="custom__fleet_size"')[1][:80]
    )
    with tenant_context(actors.tenant_a):
        assert CustomField.objects.get(pk=fleet.pk).required


def test_required_takes_only_0_or_1(actors, marketer_client, fleet):
    response = marketer_client.post(
        f"/inquiries/custom-fields/{fleet.pk}/required/", {"required": "maybe"}, follow=True
    )
    assert "Choose whether the field is required." in response.content.decode()
