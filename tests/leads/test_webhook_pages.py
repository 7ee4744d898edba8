"""``/partner/webhooks/`` (portal) and ``/webhooks/`` (managers): endpoints, log, test, resend."""

from __future__ import annotations

import pytest

from leadflow.outbox import services as outbox_services
from leadflow.outbox.endpoints import services as endpoint_services
from leadflow.outbox.models import WebhookEndpoint
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.outbox.conftest import make_endpoint, make_partner_side, receiver  # noqa: F401

URL = "/partner/webhooks/"


@pytest.fixture
def northwind(actors):
    return make_partner_side(actors.tenant_a, "Northwind")


@pytest.fixture
def contoso(actors):
    return make_partner_side(actors.tenant_a, "Contoso")


def as_(client, actor):
    client.force_login(actor.user)
    return client


def count(tenant) -> int:
    with tenant_context(tenant):
        return WebhookEndpoint.objects.count()


def test_creating_an_endpoint_shows_its_secret_once(client, actors, northwind):
    response = as_(client, northwind.actor).post(
        URL,
        {
            "url": "https://crm.northwind.example/hooks",
            "events": ["lead.offered"],
            "description": "CRM",
        },
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    listing = client.get(URL).content.decode()
    assert "crm.northwind.example" in listing and secret not in listing


def test_a_bad_url_is_refused_with_a_message_and_nothing_is_made(client, actors, northwind):
    response = as_(client, northwind.actor).post(
        URL, {"url": "http://crm.example/hooks", "events": ["lead.offered"]}
    )
    assert response.status_code == 400
    assert "only https" in response.content.decode()
    assert count(actors.tenant_a) == 0


def test_no_event_chosen_is_refused(client, actors, northwind):
    response = as_(client, northwind.actor).post(URL, {"url": "https://crm.example/hooks"})
    assert response.status_code == 400 and count(actors.tenant_a) == 0


def test_the_list_shows_only_the_own_partners_endpoints(client, actors, northwind, contoso):
    make_endpoint(northwind, "https://mine.example/hooks")
    make_endpoint(contoso, "https://theirs.example/hooks")
    page = as_(client, northwind.actor).get(URL).content.decode()
    assert "mine.example" in page and "theirs.example" not in page


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("post", "rotate/"),
        ("post", "test/"),
        ("post", "enabled/"),
        ("post", "delete/"),
    ],
)
def test_another_partners_endpoint_is_a_404(client, actors, northwind, contoso, method, suffix):
    theirs, _ = make_endpoint(contoso, "https://theirs.example/hooks")
    response = getattr(as_(client, northwind.actor), method)(f"{URL}{theirs.pk}/{suffix}")
    assert response.status_code == 404
    assert count(actors.tenant_a) == 1


def test_another_tenants_endpoint_is_a_404_for_its_managers(client, actors, northwind):
    endpoint, _ = make_endpoint(northwind, "https://mine.example/hooks")
    response = as_(client, actors.outsider).get(f"{URL}{endpoint.pk}/")
    assert response.status_code == 404


def test_another_partners_delivery_cannot_be_resent(client, actors, northwind, contoso):
    make_endpoint(contoso, "https://theirs.example/hooks")
    with tenant_context(actors.tenant_a):
        [delivery] = endpoint_services.publish(contoso.partner, "lead.offered", {}, "k")
    response = as_(client, northwind.actor).post(f"{URL}deliveries/{delivery.pk}/resend/")
    assert response.status_code == 404


def test_a_marketer_may_not_open_the_pages(client, actors):
    assert as_(client, actors.teammate).get(URL).status_code == 403
    assert client.get("/webhooks/").status_code == 403


def test_send_test_event_shows_the_receivers_answer(client, actors, northwind, receiver):  # noqa: F811
    receiver.status = 200
    receiver.body = b"thanks, got it"
    endpoint, _ = make_endpoint(northwind, receiver.url)
    response = as_(client, northwind.actor).post(f"{URL}{endpoint.pk}/test/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="test-status">200<' in page
    assert "thanks, got it" in page


def test_the_log_filters_failed_and_resend_keeps_the_id(client, actors, northwind, receiver):  # noqa: F811
    endpoint, _ = make_endpoint(northwind, receiver.url)
    with tenant_context(actors.tenant_a):
        [ok] = endpoint_services.publish(northwind.partner, "lead.offered", {"n": 1}, "ok")
        outbox_services.dispatch_due()
        receiver.status = 500
        [bad] = endpoint_services.publish(northwind.partner, "lead.assigned", {"n": 2}, "bad")
        outbox_services.dispatch_due()
    as_(client, northwind.actor)
    every = client.get(f"{URL}{endpoint.pk}/").content.decode()
    failed = client.get(f"{URL}{endpoint.pk}/?failed=1").content.decode()
    assert f'data-delivery="{ok.pk}"' in every and f'data-delivery="{bad.pk}"' in every
    assert f'data-delivery="{ok.pk}"' not in failed and f'data-delivery="{bad.pk}"' in failed
    assert "HTTP 500" in failed
    receiver.status = 200
    response = client.post(f"{URL}deliveries/{ok.pk}/resend/")
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        outbox_services.dispatch_due()
    ids = [headers["webhook-id"] for headers, _ in receiver.requests]
    assert ids.count(ok.webhook_id) == 2


def test_rotating_shows_the_new_secret_once(client, actors, northwind):
    endpoint, old = make_endpoint(northwind, "https://mine.example/hooks")
    response = as_(client, northwind.actor).post(f"{URL}{endpoint.pk}/rotate/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.context["secret"] != old
    assert "two signatures" in response.content.decode()


def test_disabling_and_enabling(client, actors, northwind):
    endpoint, _ = make_endpoint(northwind, "https://mine.example/hooks")
    as_(client, northwind.actor).post(f"{URL}{endpoint.pk}/enabled/", {"enabled": "0"})
    with tenant_context(actors.tenant_a):
        assert not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled
    client.post(f"{URL}{endpoint.pk}/enabled/", {"enabled": "1"})
    with tenant_context(actors.tenant_a):
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled


def test_managers_see_every_partners_endpoints_with_a_failure_rate(
    client,
    actors,
    northwind,
    contoso,
    receiver,  # noqa: F811
):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    make_endpoint(northwind, receiver.url)
    make_endpoint(contoso, "https://theirs.example/hooks")
    with tenant_context(actors.tenant_a):
        endpoint_services.publish(northwind.partner, "lead.offered", {}, "a")
        outbox_services.dispatch_due()
        receiver.status = 500
        endpoint_services.publish(northwind.partner, "lead.offered", {}, "b")
        outbox_services.dispatch_due()
    page = as_(client, manager).get("/webhooks/").content.decode()
    assert "Northwind" in page and "Contoso" in page
    assert "50% <small" in page
    assert "no attempts" in page


def test_the_overview_reads_a_fixed_number_of_queries(
    client, actors, django_assert_max_num_queries
):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    for n in range(5):
        make_endpoint(make_partner_side(actors.tenant_a, f"P{n}"), f"https://p{n}.example/h")
    as_(client, manager)
    with django_assert_max_num_queries(12):
        assert client.get("/webhooks/").status_code == 200
