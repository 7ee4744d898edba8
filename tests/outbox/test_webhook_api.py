"""``/api/v1/webhook-endpoints/``: partners manage their own, managers see all, others get 404."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from leadflow.outbox import services
from leadflow.outbox.models import WebhookEndpoint
from leadflow.tenancy import services as tenancy_services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from tests.conftest import make_actor
from tests.outbox.conftest import make_endpoint, make_partner_side

URL = "/api/v1/webhook-endpoints/"
NEW = {"url": "https://crm.northwind.example/hooks", "events": ["lead.assigned"]}


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER)


def count_endpoints(tenant) -> int:
    with tenant_context(tenant):
        return WebhookEndpoint.objects.count()


def test_a_partner_creates_an_endpoint_and_sees_its_secret_once(actors, northwind):
    response = northwind.actor.api().post(URL, NEW, format="json")
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert response.json()["partner"] == northwind.partner.pk
    again = northwind.actor.api().get(f"{URL}{response.json()['id']}/")
    assert again.status_code == 200
    assert "secret" not in again.json()
    assert secret not in again.content.decode()


def test_an_idempotent_replay_of_the_create_has_no_secret(actors, northwind):
    client = northwind.actor.api()
    first = client.post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    replay = client.post(URL, NEW, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.json()["secret"].startswith("whsec_")
    assert replay.json()["secret"] is None
    assert count_endpoints(actors.tenant_a) == 1


def test_a_partner_lists_only_its_own_endpoints(actors, northwind, contoso):
    mine, _ = make_endpoint(northwind, "https://one.example/hooks")
    make_endpoint(contoso, "https://two.example/hooks")
    rows = northwind.actor.api().get(URL).json()["results"]
    assert [row["id"] for row in rows] == [mine.pk]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "rotate-secret/"),
        ("post", "test/"),
        ("get", "deliveries/"),
    ],
)
def test_another_partners_endpoint_is_a_404(actors, northwind, contoso, method, suffix):
    theirs, _ = make_endpoint(contoso, "https://two.example/hooks")
    response = getattr(northwind.actor.api(), method)(
        f"{URL}{theirs.pk}/{suffix}", {"description": "x"}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "rotate-secret/"),
        ("get", "deliveries/"),
    ],
)
def test_another_tenants_endpoint_is_a_404(actors, northwind, method, suffix):
    endpoint, _ = make_endpoint(northwind, "https://one.example/hooks")
    response = getattr(actors.outsider.api(), method)(
        f"{URL}{endpoint.pk}/{suffix}", {"description": "x"}, format="json"
    )
    assert response.status_code == 404


def test_another_tenants_delivery_cannot_be_resent(actors, northwind):
    from leadflow.outbox.endpoints import services as endpoint_services

    make_endpoint(northwind, "https://one.example/hooks")
    with tenant_context(actors.tenant_a):
        [delivery] = endpoint_services.publish(northwind.partner, "lead.assigned", {}, "k")
    response = actors.outsider.api().post(f"{URL}deliveries/{delivery.pk}/resend/")
    assert response.status_code == 404


def test_another_partners_delivery_cannot_be_resent(actors, northwind, contoso):
    from leadflow.outbox.endpoints import services as endpoint_services

    make_endpoint(contoso, "https://two.example/hooks")
    with tenant_context(actors.tenant_a):
        [delivery] = endpoint_services.publish(contoso.partner, "lead.assigned", {}, "k")
    response = northwind.actor.api().post(f"{URL}deliveries/{delivery.pk}/resend/")
    assert response.status_code == 404


def test_a_manager_sees_every_partners_endpoints(actors, manager, northwind, contoso):
    make_endpoint(northwind, "https://one.example/hooks")
    make_endpoint(contoso, "https://two.example/hooks")
    rows = manager.api().get(URL).json()["results"]
    assert sorted(row["partner_name"] for row in rows) == ["Contoso", "Northwind"]


def test_a_manager_creates_an_endpoint_for_a_named_partner(actors, manager, northwind):
    response = manager.api().post(URL, {**NEW, "partner": northwind.partner.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["partner"] == northwind.partner.pk


def test_a_manager_must_name_the_partner(actors, manager):
    response = manager.api().post(URL, NEW, format="json")
    assert response.status_code == 400
    assert "partner" in response.json()["errors"] or "partner" in str(response.json())


def test_a_marketer_may_not_see_endpoints(actors):
    assert actors.teammate.api().get(URL).status_code == 403


def test_a_partners_api_key_lists_its_endpoints(actors, northwind):
    endpoint, _ = make_endpoint(northwind, "https://one.example/hooks")
    with tenant_context(actors.tenant_a):
        issued = tenancy_services.issue_api_key(
            name="CRM", partner=northwind.partner, by=Principal.system(actors.tenant_a)
        )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    rows = client.get(URL).json()["results"]
    assert [row["id"] for row in rows] == [endpoint.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://crm.example/hooks", "events": ["lead.assigned"]}, "url"),
        ({"url": "https://10.0.0.5/hooks", "events": ["lead.assigned"]}, "url"),
        ({"url": "https://127.0.0.1/hooks", "events": ["lead.assigned"]}, "url"),
        ({"url": "https://[::1]/hooks", "events": ["lead.assigned"]}, "url"),
        ({"url": "https://localhost/hooks", "events": ["lead.assigned"]}, "url"),
        ({"url": "https://crm.example/hooks", "events": ["lead.won"]}, "events"),
        ({"url": "https://crm.example/hooks", "events": []}, "events"),
        ({"url": "https://crm.example/hooks", "events": "lead.assigned"}, "events"),
    ],
)
def test_a_bad_endpoint_is_a_400_naming_the_field_and_nothing_is_made(
    actors, northwind, body, field
):
    response = northwind.actor.api().post(URL, body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert count_endpoints(actors.tenant_a) == 0


def test_the_development_setting_allows_an_http_loopback_url(actors, northwind, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    body = {"url": "http://127.0.0.1:8123/hooks", "events": ["lead.assigned"]}
    assert northwind.actor.api().post(URL, body, format="json").status_code == 201


def test_patch_changes_events_and_disabling_says_by_whom(actors, northwind):
    endpoint, _ = make_endpoint(northwind, "https://one.example/hooks")
    response = northwind.actor.api().patch(
        f"{URL}{endpoint.pk}/", {"events": ["lead.recalled"], "enabled": False}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["events"] == ["lead.recalled"]
    assert response.json()["enabled"] is False
    assert response.json()["disabled_reason"].startswith("Disabled by")


def test_delete_removes_the_endpoint(actors, northwind):
    endpoint, _ = make_endpoint(northwind, "https://one.example/hooks")
    assert northwind.actor.api().delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert count_endpoints(actors.tenant_a) == 0


def test_rotate_secret_shows_a_new_secret_and_an_overlap(actors, northwind):
    endpoint, old = make_endpoint(northwind, "https://one.example/hooks")
    response = northwind.actor.api().post(f"{URL}{endpoint.pk}/rotate-secret/")
    assert response.status_code == 200
    assert response.json()["secret"].startswith("whsec_")
    assert response.json()["secret"] != old
    assert response.json()["secret_overlap_until"] is not None


def test_test_event_answers_the_receivers_status(actors, northwind, receiver):
    receiver.status = 418
    receiver.body = b"short and stout"
    endpoint, _ = make_endpoint(northwind, receiver.url)
    response = northwind.actor.api().post(f"{URL}{endpoint.pk}/test/")
    assert response.status_code == 200
    attempt = response.json()["attempt"]
    assert attempt["response_status"] == 418
    assert attempt["response_excerpt"] == "short and stout"
    assert response.json()["delivery"]["event_type"] == "webhook.test"


def test_deliveries_list_attempts_and_filters_failed(actors, northwind, receiver):
    from leadflow.outbox.endpoints import services as endpoint_services

    endpoint, _ = make_endpoint(northwind, receiver.url)
    with tenant_context(actors.tenant_a):
        endpoint_services.publish(northwind.partner, "lead.assigned", {"n": 1}, "ok")
        services.dispatch_due()
        receiver.status = 500
        endpoint_services.publish(northwind.partner, "lead.assigned", {"n": 2}, "bad")
        services.dispatch_due()
    client = northwind.actor.api()
    every = client.get(f"{URL}{endpoint.pk}/deliveries/").json()["results"]
    failed = client.get(f"{URL}{endpoint.pk}/deliveries/?failed=true").json()["results"]
    assert len(every) == 2
    assert [row["state"] for row in failed] == ["pending"]
    [attempt] = failed[0]["attempts"]
    assert attempt["response_status"] == 500
    assert attempt["request_headers"]["webhook-id"] == failed[0]["webhook_id"]
    assert '"n":2' in attempt["request_body"]


def test_resend_keeps_the_webhook_id(actors, northwind, receiver):
    from leadflow.outbox.endpoints import services as endpoint_services

    make_endpoint(northwind, receiver.url)
    with tenant_context(actors.tenant_a):
        [delivery] = endpoint_services.publish(northwind.partner, "lead.assigned", {}, "k")
        services.dispatch_due()
    response = northwind.actor.api().post(f"{URL}deliveries/{delivery.pk}/resend/")
    assert response.status_code == 200
    assert response.json()["webhook_id"] == delivery.webhook_id
    with tenant_context(actors.tenant_a):
        services.dispatch_due()
    assert [h["webhook-id"] for h, _ in receiver.requests] == [delivery.webhook_id] * 2


def test_resending_a_delivery_still_pending_is_a_409(actors, northwind):
    from leadflow.outbox.endpoints import services as endpoint_services

    make_endpoint(northwind, "https://one.example/hooks")
    with tenant_context(actors.tenant_a):
        [delivery] = endpoint_services.publish(northwind.partner, "lead.assigned", {}, "k")
    response = northwind.actor.api().post(f"{URL}deliveries/{delivery.pk}/resend/")
    assert response.status_code == 409


def test_a_partner_of_another_tenant_cannot_create_for_this_one(actors):
    stranger = make_partner_side(actors.tenant_b, "Fabrikam")
    response = stranger.actor.api().post(URL, NEW, format="json")
    assert response.status_code == 201
    assert count_endpoints(actors.tenant_a) == 0
    assert count_endpoints(actors.tenant_b) == 1


def test_the_schema_says_a_delivery_may_have_no_next_attempt(actors):
    """A sent or failed delivery answers ``next_attempt_at: null``; the schema must allow it."""
    schema = actors.owner.api().get("/api/v1/schema/", {"format": "json"}).json()
    field = schema["components"]["schemas"]["WebhookDeliveryOutput"]["properties"][
        "next_attempt_at"
    ]
    assert field.get("nullable") is True
