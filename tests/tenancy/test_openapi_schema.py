"""The OpenAPI schema says what the API answers: nullable ids, errors, pages, closed bodies.

The CI's schemathesis run (scripts/schemathesis_ci.py) fuzzes every operation
against the schema; these tests pin the properties it depends on, each with an
answer of the API checked against the schema's word.
"""

import pytest
from drf_spectacular.generators import SchemaGenerator

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import ApiKey
from tests.factories import InquiryFactory

pytestmark = pytest.mark.django_db
ERROR_CODES = {"400", "401", "403", "404", "429"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def component(schema, name):
    return schema["components"]["schemas"][name]


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "patch", "put", "delete"}:
                yield path, method, operation


@pytest.mark.parametrize("field", ["campaign", "partner", "assigned_to"])
def test_an_inquirys_unset_links_are_nullable_in_the_schema_and_null_in_the_answer(
    actors, schema, field
):
    assert component(schema, "InquiryOutput")["properties"][field].get("nullable") is True
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    body = actors.teammate.api().get(f"/api/v1/inquiries/{inquiry.pk}/").json()
    assert body[field] is None


def test_an_api_keys_partner_is_nullable(actors, schema, system_a):
    for name in ("ApiKeyOutput", "IssuedApiKeyOutput"):
        assert component(schema, name)["properties"]["partner"].get("nullable") is True
    created = actors.owner.api().post(
        "/api/v1/api-keys/", {"name": "sync", "role": "marketer"}, format="json"
    )
    assert created.json()["partner"] is None
    with tenant_context(actors.tenant_a):
        assert ApiKey.objects.get(pk=created.json()["id"]).partner is None


def test_every_operation_documents_its_errors_in_the_one_error_shape(schema):
    error = component(schema, "Error")
    assert set(error["required"]) == {"status", "code", "detail"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert {"401", "403", "404", "429"} <= set(responses), (method, path)
        if method != "get":
            assert {"400", "409", "422"} <= set(responses), (method, path)
        content = responses["404"]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/Error"}


def test_an_error_answer_has_the_documented_shape(actors, schema):
    body = actors.teammate.api().get("/api/v1/inquiries/?page_size=0").json()
    assert set(component(schema, "Error")["required"]) <= set(body)
    assert set(body) <= set(component(schema, "Error")["properties"])


def test_the_timeline_is_a_page_like_every_list(actors, schema):
    operation = schema["paths"]["/api/v1/inquiries/{id}/activities/"]["get"]
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert reference == {"$ref": "#/components/schemas/PaginatedActivityOutputList"}
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    body = actors.teammate.api().get(f"/api/v1/inquiries/{inquiry.pk}/activities/").json()
    assert set(body) == {"count", "next", "previous", "results"}


def test_the_inbox_page_is_documented_as_the_page_it_is(schema):
    operation = schema["paths"]["/api/v1/inquiries/"]["get"]
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert reference == {"$ref": "#/components/schemas/InboxPageOutput"}


@pytest.mark.parametrize("value", ["0", "201", "abc", "", "1.5"])
@pytest.mark.parametrize(
    "path", ["/api/v1/partners/", "/api/v1/audit-events/", "/api/v1/inquiries/"]
)
def test_a_page_size_outside_1_to_200_is_400(actors, path, value):
    response = actors.owner.api().get(path, {"page_size": value})
    assert response.status_code == 400
    assert "page_size" in response.json()["errors"]


def test_the_schema_bounds_page_size_as_the_api_does(schema):
    parameters = schema["paths"]["/api/v1/partners/"]["get"]["parameters"]
    [page_size] = [p for p in parameters if p["name"] == "page_size"]
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 200)


def test_an_empty_page_number_is_404_like_any_non_number(actors):
    response = actors.owner.api().get("/api/v1/partners/", {"page": ""})
    assert response.status_code == 404


def test_a_strict_body_is_closed_in_the_schema(schema):
    assert component(schema, "InquiryInputRequest")["additionalProperties"] is False


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/partners/", {"name": 0, "kind": "var"}, "name"),
        ("/api/v1/inquiries/saved-views/", {"name": "x", "query": 0}, "query"),
        ("/api/v1/inquiries/", {"email": "a@b.test", "external_id": 7}, "external_id"),
        ("/api/v1/campaigns/", {"name": "Spring", "spend": 1.5}, "spend"),
    ],
)
def test_a_json_value_of_another_type_than_documented_is_400(actors, path, body, field):
    response = actors.owner.api().post(path, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_decimal_is_taken_as_a_string_or_a_whole_number(actors, schema):
    spend = component(schema, "CampaignRequest")["properties"]["spend"]
    assert [option["type"] for option in spend["oneOf"]] == ["string", "integer"]
    api = actors.owner.api()
    assert (
        api.post("/api/v1/campaigns/", {"name": "A", "spend": 1200}, format="json").status_code
        == 201
    )
    assert (
        api.post("/api/v1/campaigns/", {"name": "B", "spend": "99.50"}, format="json").status_code
        == 201
    )


def test_only_editable_fields_are_documented_for_a_profile_correction(actors, schema):
    properties = component(schema, "PatchedInquiryChangeRequest")["properties"]
    assert "external_id" not in properties and "country" in properties
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    response = actors.teammate.api().patch(
        f"/api/v1/inquiries/{inquiry.pk}/", {"external_id": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "external_id" in response.json()["errors"]


def test_export_ids_follow_the_documented_pattern(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    api = actors.teammate.api()
    assert api.get("/api/v1/inquiries/export.csv", {"ids": f"{inquiry.pk}"}).status_code == 200
    response = api.get("/api/v1/inquiries/export.csv", {"ids": f" {inquiry.pk},"})
    assert response.status_code == 400


def test_the_schema_endpoint_serves_the_error_component(client):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert "Error" in response.json()["components"]["schemas"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/leads/", {"rep": "1.0"}),
        ("/api/v1/leads/", {"rep": " 1"}),
        ("/api/v1/inquiries/", {"score_min": "10.0"}),
        ("/api/v1/inquiries/", {"campaign": "0"}),
    ],
)
def test_an_integer_filter_takes_digits_only_as_the_schema_says(actors, path, params):
    response = actors.owner.api().get(path, params)
    assert response.status_code == 400
    assert set(params) <= set(response.json()["errors"])


def test_a_custom_field_key_is_measured_as_sent(actors):
    response = actors.owner.api().post(
        "/api/v1/custom-fields/",
        {"key": "fleet" + " " * 200, "label": "Fleet", "kind": "text"},
        format="json",
    )
    assert response.status_code == 400
    assert "key" in response.json()["errors"]
