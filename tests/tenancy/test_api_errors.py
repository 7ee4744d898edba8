"""Bad requests get a 4xx in the one JSON error shape, never a 500."""

import pytest

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Partner

SHAPE = {"status", "code", "detail"}


def raw_post(actor, body: bytes, content_type="application/json"):
    return actor.api().generic("POST", "/api/v1/partners/", body, content_type=content_type)


def assert_error_shape(response, status):
    assert response.status_code == status
    body = response.json()
    assert set(body) >= SHAPE
    assert body["status"] == status


def assert_nothing_written(actors):
    with tenant_context(actors.tenant_a):
        assert Partner.objects.count() == 0


def test_malformed_json_is_400(actors):
    response = raw_post(actors.owner, b'{"name": "x", ')
    assert_error_shape(response, 400)
    assert response.json()["code"] == "parse_error"
    assert_nothing_written(actors)


def test_wrong_content_type_is_415(actors):
    response = raw_post(actors.owner, b"name=x&kind=var", "application/x-www-form-urlencoded")
    assert_error_shape(response, 415)
    assert_nothing_written(actors)


def test_json_array_instead_of_object_is_400(actors):
    response = raw_post(actors.owner, b'[{"name": "x", "kind": "var"}]')
    assert_error_shape(response, 400)
    assert "non_field_errors" in response.json()["errors"]
    assert_nothing_written(actors)


def test_nul_byte_is_400_with_the_field_named(actors):
    response = raw_post(actors.owner, b'{"name": "bad\\u0000name", "kind": "var"}')
    assert_error_shape(response, 400)
    assert "name" in response.json()["errors"]
    assert_nothing_written(actors)


def test_over_long_field_is_400_with_the_field_named(actors):
    response = raw_post(actors.owner, ('{"name": "%s", "kind": "var"}' % ("x" * 100_000)).encode())
    assert_error_shape(response, 400)
    assert "name" in response.json()["errors"]
    assert_nothing_written(actors)


def test_body_past_the_upload_limit_is_400(actors, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = raw_post(actors.owner, ('{"name": "%s", "kind": "var"}' % ("x" * 5000)).encode())
    assert_error_shape(response, 400)
    assert_nothing_written(actors)


def test_invalid_utf8_is_400(actors):
    response = raw_post(actors.owner, b'{"name": "\xff\xfe", "kind": "var"}')
    assert_error_shape(response, 400)
    assert_nothing_written(actors)


def test_unknown_api_route_is_a_json_404(actors):
    assert_error_shape(actors.owner.api().get("/api/v1/no-such-thing/"), 404)


def test_wrong_method_is_405(actors):
    assert_error_shape(actors.owner.api().delete("/api/v1/me/"), 405)


@pytest.mark.parametrize("page", ["999", "abc"])
def test_page_out_of_range_is_404(actors, page):
    assert_error_shape(actors.owner.api().get(f"/api/v1/partners/?page={page}"), 404)


# --- Bodies the JSON reader accepts but nothing can store ------------------------------

DEEP = b"[" * 1000


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/partners/"),
        ("POST", "/api/v1/inquiries/"),
        ("POST", "/api/v1/inquiries/bulk/"),
        ("POST", "/api/v1/lead-definitions/"),
        ("POST", "/api/v1/inquiries/saved-views/"),
        ("POST", "/api/v1/api-keys/"),
    ],
)
def test_a_deeply_nested_body_is_400_on_every_json_endpoint(actors, method, path):
    response = actors.owner.api().generic(method, path, DEEP, content_type="application/json")
    assert_error_shape(response, 400)
    assert response.json()["code"] == "parse_error"


def test_a_nested_body_closed_properly_but_too_deep_is_400(actors):
    body = b'{"email": "a@b.test", "activity_details": {"x": ' + b"[" * 100 + b"]" * 100 + b"}}"
    response = actors.owner.api().generic(
        "POST", "/api/v1/inquiries/", body, content_type="application/json"
    )
    assert_error_shape(response, 400)


def test_a_nul_inside_activity_details_is_400_naming_the_field(actors):
    body = b'{"email": "a@b.test", "activity_details": {"note": "bad\\u0000note"}}'
    response = actors.owner.api().generic(
        "POST", "/api/v1/inquiries/", body, content_type="application/json"
    )
    assert_error_shape(response, 400)
    assert "activity_details.note" in response.json()["errors"]


def test_a_nul_inside_activity_details_of_an_activity_is_400(actors):
    created = actors.owner.api().post("/api/v1/inquiries/", {"email": "a@b.test"}, format="json")
    body = b'{"kind": "webinar", "details": {"tags": ["ok", "\\u0000"]}}'
    response = actors.owner.api().generic(
        "POST",
        f"/api/v1/inquiries/{created.json()['id']}/activities/",
        body,
        content_type="application/json",
    )
    assert_error_shape(response, 400)
    assert "details.tags[1]" in response.json()["errors"]


def test_a_nul_in_a_custom_value_is_400(actors):
    body = b'{"email": "a@b.test", "custom": {"bad\\u0000key": 1}}'
    response = actors.owner.api().generic(
        "POST", "/api/v1/inquiries/", body, content_type="application/json"
    )
    assert_error_shape(response, 400)
    assert "custom" in response.json()["errors"]


def test_a_lone_surrogate_inside_activity_details_is_400_naming_the_field(actors):
    body = b'{"email": "a@b.test", "activity_details": {"note": "bad\\ud800note"}}'
    response = actors.owner.api().generic(
        "POST", "/api/v1/inquiries/", body, content_type="application/json"
    )
    assert_error_shape(response, 400)
    assert "activity_details.note" in response.json()["errors"]
