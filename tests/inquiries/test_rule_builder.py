"""The rule builder page: a draft's rules edited with pickers, never JSON."""

import pytest

from inquiries import scoring
from inquiries.models import CustomField, LeadDefinition
from inquiries.views.rule_builder import rules_from_post
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadDefinitionFactory


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


@pytest.fixture
def draft(actors):
    return LeadDefinitionFactory(
        tenant=actors.tenant_a,
        version=2,
        status="draft",
        fit_rules=[{"field": "company_size", "op": "range", "value": [50, 5000], "points": 15}],
        engagement_rules=[{"activity": "webinar", "points": 10, "half_life_days": 30}],
        qualifiers=[],
    )


def builder_data(definition, **extra) -> dict:
    """The builder as the browser posts it: the existing rows unchanged, two blank rows."""
    data = {
        "mql_threshold": definition.mql_threshold,
        "reps": definition.reps,
        "leads_per_rep_per_week": definition.leads_per_rep_per_week,
        "fit-count": 3,
        "fit-0-field": "company_size",
        "fit-0-op": "range",
        "fit-0-low": "50",
        "fit-0-high": "5000",
        "fit-0-points": "15",
        "engagement-count": 3,
        "engagement-0-activity": "webinar",
        "engagement-0-points": "10",
        "engagement-0-half_life_days": "30",
        "qualifier-count": 2,
    }
    data.update(extra)
    return data


def reload(actors, definition) -> LeadDefinition:
    with tenant_context(actors.tenant_a):
        return LeadDefinition.objects.get(pk=definition.pk)


def test_the_builder_shows_rules_as_rows_and_suggests_what_the_data_holds(
    actors, marketer_client, draft
):
    InquiryFactory(tenant=actors.tenant_a, industry="Logistics")
    InquiryFactory(tenant=actors.tenant_a, industry="Logistics")
    InquiryFactory(tenant=actors.tenant_b, industry="Secret Industry")
    content = marketer_client.get(f"/definitions/{draft.pk}/rules/").content.decode()
    assert 'name="fit-0-low" value="50"' in content
    assert '<option value="range" data-kinds="number" selected>is between</option>' in content
    assert '<option value="Logistics">' in content
    assert "Secret Industry" not in content
    assert "&quot;field&quot;" not in content


def test_adding_a_rule_on_a_blank_row_saves_it(actors, marketer_client, draft):
    data = builder_data(
        draft,
        **{
            "fit-1-field": "industry",
            "fit-1-op": "in",
            "fit-1-value": "logistics, retail",
            "fit-1-points": "12",
            "qualifier-0-field": "country",
            "qualifier-0-op": "is_set",
        },
    )
    response = marketer_client.post(f"/definitions/{draft.pk}/rules/", data)
    assert response.status_code == 302
    saved = reload(actors, draft)
    assert saved.fit_rules[1] == {
        "field": "industry",
        "op": "in",
        "value": ["logistics", "retail"],
        "points": 12,
    }
    assert saved.qualifiers == [{"field": "country", "op": "is_set"}]
    assert saved.engagement_rules == [{"activity": "webinar", "points": 10, "half_life_days": 30}]


def test_removing_a_rule(actors, marketer_client, draft):
    data = builder_data(draft, **{"engagement-0-delete": "on"})
    marketer_client.post(f"/definitions/{draft.pk}/rules/", data)
    assert reload(actors, draft).engagement_rules == []


def test_a_bad_rule_is_named_in_words_and_nothing_is_saved(actors, marketer_client, draft):
    data = builder_data(draft, **{"fit-0-low": "", "fit-0-high": "", "mql_threshold": "90"})
    response = marketer_client.post(f"/definitions/{draft.pk}/rules/", data)
    assert response.status_code == 400
    assert "Fit rule 1 (value): Give at least one bound." in response.content.decode()
    saved = reload(actors, draft)
    assert (saved.mql_threshold, saved.fit_rules) == (draft.mql_threshold, draft.fit_rules)


def test_a_zero_threshold_is_refused(actors, marketer_client, draft):
    response = marketer_client.post(
        f"/definitions/{draft.pk}/rules/", builder_data(draft, mql_threshold="0")
    )
    assert response.status_code == 400
    assert reload(actors, draft).mql_threshold == draft.mql_threshold


def test_a_custom_field_rule(actors, marketer_client, draft):
    with tenant_context(actors.tenant_a):
        CustomField.objects.create(
            tenant=actors.tenant_a, key="fleet_size", label="Fleet size", kind="number"
        )
    data = builder_data(
        draft,
        **{
            "fit-1-field": "custom.fleet_size",
            "fit-1-op": "range",
            "fit-1-low": "100",
            "fit-1-points": "20",
        },
    )
    assert marketer_client.post(f"/definitions/{draft.pk}/rules/", data).status_code == 302
    assert reload(actors, draft).fit_rules[1]["value"] == [100, None]


def test_an_active_version_is_not_edited_here(actors, marketer_client):
    active = LeadDefinitionFactory(tenant=actors.tenant_a, version=1)
    response = marketer_client.get(f"/definitions/{active.pk}/rules/")
    assert response.status_code == 302 and response["Location"] == f"/definitions/{active.pk}/"


def test_another_tenants_definition_is_404(actors, client, draft):
    client.force_login(actors.outsider.user)
    assert client.get(f"/definitions/{draft.pk}/rules/").status_code == 404
    assert client.post(f"/definitions/{draft.pk}/rules/", builder_data(draft)).status_code == 404


def test_a_qualifier_reads_but_may_not_save(actors, client, draft):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    client.force_login(qualifier.user)
    assert client.get(f"/definitions/{draft.pk}/rules/").status_code == 200
    response = client.post(
        f"/definitions/{draft.pk}/rules/", builder_data(draft, mql_threshold="99")
    )
    assert response.status_code == 403
    assert reload(actors, draft).mql_threshold == draft.mql_threshold


def test_is_set_matches_any_value_given():
    rules = scoring.parse_rules(
        fit_rules=[{"field": "country", "op": "is_set", "points": 5}],
        engagement_rules=[],
        qualifiers=[],
        threshold=1,
    )
    rule = rules.fit[0]
    assert rule.matches({"country": "DE"}) and not rule.matches({"country": ""})
    assert rule.label == "country is set"


def test_blank_rows_become_no_rules():
    from django.http import QueryDict

    values, _rows = rules_from_post(
        QueryDict("fit-count=2&engagement-count=1&qualifier-count=1&mql_threshold=50")
    )
    assert (values["fit_rules"], values["engagement_rules"], values["qualifiers"]) == ([], [], [])


def test_the_builder_takes_the_same_queries_for_few_and_many_inquiries(
    actors, marketer_client, draft, django_assert_max_num_queries
):
    InquiryFactory(tenant=actors.tenant_a, industry="Logistics")
    with django_assert_max_num_queries(20) as few:
        marketer_client.get(f"/definitions/{draft.pk}/rules/")
    for n in range(20):
        InquiryFactory(tenant=actors.tenant_a, industry=f"Industry {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        marketer_client.get(f"/definitions/{draft.pk}/rules/")
