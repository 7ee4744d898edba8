"""``/api/v1/deal-registrations/``: partners register (201 or a stored 409), who reads what,
tenancy, Idempotency-Key and query counts."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import DealRegistration
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, PartnerFactory, TenantFactory

URL = "/api/v1/deal-registrations/"
BUYER = {
    "company": "Acme GmbH",
    "company_domain": "acme.de",
    "first_name": "Ada",
    "last_name": "Berg",
    "email": "ada.berg@acme.de",
    "country": "DE",
    "need": "40 forklifts",
}


@pytest.fixture
def northwind(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


@pytest.fixture
def contoso(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Contoso")


def key_for(partner, system_a) -> APIClient:
    with tenant_context(partner.tenant_id):
        issued = services.issue_api_key(name="crm", partner=partner, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


def user_of(actors, partner) -> APIClient:
    return make_actor(actors.tenant_a, Role.REP, partner=partner).api()


def post(api, **changes):
    return api.post(URL, {**BUYER, **changes}, format="json")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def stored(actors) -> list[tuple[int, str]]:
    with tenant_context(actors.tenant_a):
        return list(DealRegistration.objects.values_list("partner_id", "status"))


# --- POST ---------------------------------------------------------------------------------


def test_a_partner_key_registers_a_deal(actors, northwind, system_a):
    response = post(key_for(northwind, system_a))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["partner"]) == (
        "registered",
        {"id": northwind.pk, "name": "Northwind"},
    )
    assert body["inquiry"] is not None and body["inquiry_stage"] is not None
    assert body["protected_until"] is not None


def test_a_partner_user_registers_a_deal(actors, northwind):
    assert post(user_of(actors, northwind)).status_code == 201


def test_an_owned_buyer_is_a_409_already_owned_without_the_owner(actors, northwind, contoso):
    InquiryFactory(tenant=actors.tenant_a, email="ada.berg@acme.de", partner=contoso)
    response = post(user_of(actors, northwind))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "already_owned"
    assert body["detail"] == "This buyer is already being worked; it cannot be registered."
    assert "Contoso" not in response.content.decode()
    assert str(contoso.pk) not in str(body["registration"]["reason"])


def test_the_refusal_is_visible_in_the_partners_list(actors, northwind, contoso):
    post(user_of(actors, contoso))
    api = user_of(actors, northwind)
    refused = post(api).json()["registration"]
    rows = api.get(URL).json()["results"]
    assert [(row["id"], row["status"]) for row in rows] == [(refused["id"], "refused")]


def test_a_second_partner_loses_to_the_first(actors, northwind, contoso):
    first = post(user_of(actors, contoso))
    second = post(user_of(actors, northwind), email="buyer2@acme.de")
    assert (first.status_code, second.status_code) == (201, 409)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"company": ""}, "company"),
        ({"email": "nope"}, "email"),
        ({"email": "", "company_domain": ""}, "email"),
        ({"country": "UK"}, "country"),
        ({"need": "x" * 2001}, "need"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_on_its_field_and_writes_nothing(actors, northwind, changes, field):
    response = post(user_of(actors, northwind), **changes)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert stored(actors) == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.REP, Role.MARKETER])
def test_a_member_who_is_not_a_partner_gets_403(actors, role):
    response = post(make_actor(actors.tenant_a, role).api())
    assert response.status_code == 403
    assert stored(actors) == []


def test_a_replayed_post_with_the_same_key_writes_once(actors, northwind):
    api = user_of(actors, northwind)
    first = api.post(URL, BUYER, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    second = api.post(URL, BUYER, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert stored(actors) == [(northwind.pk, "registered")]


def test_a_replayed_refusal_keeps_its_409_and_stores_one_refusal(actors, northwind, contoso):
    post(user_of(actors, contoso))
    api = user_of(actors, northwind)
    first = api.post(URL, BUYER, format="json", HTTP_IDEMPOTENCY_KEY="reg-2")
    second = api.post(URL, BUYER, format="json", HTTP_IDEMPOTENCY_KEY="reg-2")
    assert (first.status_code, second.status_code) == (409, 409)
    assert sorted(stored(actors)) == sorted([(contoso.pk, "registered"), (northwind.pk, "refused")])


# --- GET ----------------------------------------------------------------------------------


def test_a_partner_lists_only_its_own_registrations(actors, northwind, contoso):
    ours = post(user_of(actors, northwind)).json()["id"]
    post(user_of(actors, contoso), email="x@other.de", company_domain="other.de")
    assert ids(user_of(actors, northwind).get(URL)) == [ours]


def test_a_partner_reading_another_partners_registration_gets_404(actors, northwind, contoso):
    theirs = post(user_of(actors, contoso)).json()["id"]
    assert user_of(actors, northwind).get(f"{URL}{theirs}/").status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_managers_read_every_registration_and_filter_by_partner(actors, northwind, contoso, role):
    ours = post(user_of(actors, northwind)).json()["id"]
    theirs = post(user_of(actors, contoso), email="x@other.de", company_domain="other.de")
    api = make_actor(actors.tenant_a, role).api()
    assert set(ids(api.get(URL))) == {ours, theirs.json()["id"]}
    assert ids(api.get(URL, {"partner": northwind.pk})) == [ours]
    assert set(ids(api.get(URL, {"partner": ""}))) == {ours, theirs.json()["id"]}  # blank: all
    assert api.get(f"{URL}{ours}/").json()["partner"]["name"] == "Northwind"


@pytest.mark.parametrize("value", ["-3", "99999999999999999999"])
def test_a_partner_id_no_partner_can_have_lists_nothing(actors, northwind, value):
    post(user_of(actors, northwind))
    response = actors.owner.api().get(URL, {"partner": value})
    assert (response.status_code, ids(response)) == (200, [])


def test_a_bad_partner_filter_is_a_400(actors):
    response = actors.owner.api().get(URL, {"partner": "north"})
    assert response.status_code == 400
    assert "partner" in response.json()["errors"]


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_may_not_read_registrations(actors, role):
    assert make_actor(actors.tenant_a, role).api().get(URL).status_code == 403


def test_another_tenants_registration_is_a_404(actors, northwind):
    ours = post(user_of(actors, northwind)).json()["id"]
    assert actors.outsider.api().get(f"{URL}{ours}/").status_code == 404
    assert ids(actors.outsider.api().get(URL)) == []


@pytest.mark.parametrize("rows", [1, 8])
def test_the_list_query_count_does_not_grow_with_rows(
    actors, northwind, django_assert_max_num_queries, rows
):
    api = user_of(actors, northwind)
    for n in range(rows):
        post(api, email=f"buyer{n}@firm{n}.de", company_domain=f"firm{n}.de")
    # tenant, credential, membership (+ partner), last-used stamp, count, page
    with django_assert_max_num_queries(7):
        assert api.get(URL).json()["count"] == rows


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_partners_registering_one_buyer_at_once_leave_exactly_one_winner():
    tenant = TenantFactory(slug="deal-race")
    apis = [
        make_actor(tenant, Role.REP, partner=PartnerFactory(tenant=tenant)).api() for _ in range(6)
    ]
    start = threading.Barrier(len(apis))
    statuses: list[int] = []

    def worker(api):
        try:
            start.wait()
            statuses.append(post(api, email="", company_domain="acme.de").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [409] * 5
    with tenant_context(tenant):
        assert DealRegistration.objects.filter(status="registered").count() == 1
        assert DealRegistration.objects.filter(status="refused").count() == 5
