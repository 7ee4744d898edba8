"""The deals page ``/deals/``: a partner's form and registrations, managers' list, who opens it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import DealRegistration
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory

PAGE = "/deals/"
FORM = {
    "company": "Acme GmbH",
    "company_domain": "acme.de",
    "first_name": "Ada",
    "last_name": "Berg",
    "email": "ada.berg@acme.de",
    "phone": "",
    "country": "DE",
    "need": "40 forklifts",
    "consent": "unknown",
}


@pytest.fixture
def northwind(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


@pytest.fixture
def contoso(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Contoso")


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def partner_user(actors, partner, **user):
    return make_actor(actors.tenant_a, Role.REP, partner=partner, **user)


def stored(actors) -> list[tuple[int, str]]:
    with tenant_context(actors.tenant_a):
        return list(DealRegistration.objects.values_list("partner_id", "status"))


def test_a_partner_with_no_registration_sees_the_form_and_an_empty_state(actors, northwind):
    response = client_of(partner_user(actors, northwind)).get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Register a deal" in body
    assert "You have not registered a deal yet" in body


def test_a_partner_registers_a_deal_from_the_page(actors, northwind):
    client = client_of(partner_user(actors, northwind))
    response = client.post(PAGE, FORM, follow=True)
    assert "Acme GmbH is registered" in response.content.decode()
    assert stored(actors) == [(northwind.pk, "registered")]


def test_a_refused_deal_is_stored_and_its_reason_shown_without_the_owner(
    actors, northwind, contoso
):
    InquiryFactory(tenant=actors.tenant_a, email="ada.berg@acme.de", partner=contoso)
    response = client_of(partner_user(actors, northwind)).post(PAGE, FORM, follow=True)
    body = response.content.decode()
    assert "This buyer is already being worked; it cannot be registered." in body
    assert "Contoso" not in body
    assert stored(actors) == [(northwind.pk, "refused")]


def test_bad_input_is_shown_on_its_field_and_nothing_is_saved(actors, northwind):
    response = client_of(partner_user(actors, northwind)).post(PAGE, {**FORM, "country": "UK"})
    assert response.status_code == 400
    assert "The United Kingdom is GB." in response.content.decode()
    assert stored(actors) == []


def test_the_partner_sees_what_became_of_its_registration_in_its_own_zone(actors, northwind):
    user = partner_user(actors, northwind, user__timezone="Asia/Tokyo")
    client = client_of(user)
    with time_machine.travel(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), tick=False):
        client.post(PAGE, FORM)
    with tenant_context(actors.tenant_a):
        registration = DealRegistration.objects.get()
    LeadFactory(tenant=actors.tenant_a, inquiry_id=registration.inquiry_id, stage="accepted")
    body = client.get(PAGE).content.decode()
    assert "3 Mar 2026, 08:30" in body  # 23:30 UTC is 08:30 the next day in Tokyo
    assert "Accepted" in body


def test_a_partner_sees_only_its_own_registrations(actors, northwind, contoso):
    client_of(partner_user(actors, contoso)).post(PAGE, FORM)
    body = client_of(partner_user(actors, northwind)).get(PAGE).content.decode()
    assert "Acme GmbH" not in body


def test_a_manager_sees_every_registration_with_the_partners_name(actors, northwind, contoso):
    client_of(partner_user(actors, northwind)).post(PAGE, FORM)
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    body = client_of(manager).get(PAGE).content.decode()
    assert "Acme GmbH" in body and "Northwind" in body
    assert "Register a deal" not in body
    filtered = client_of(manager).get(PAGE, {"partner": contoso.pk}).content.decode()
    assert "This partner has not registered a deal yet." in filtered


def test_a_manager_cannot_register_from_the_page(actors):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    assert client_of(manager).post(PAGE, FORM).status_code == 403
    assert stored(actors) == []


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_members_get_403(actors, role):
    assert client_of(make_actor(actors.tenant_a, role)).get(PAGE).status_code == 403


def test_another_tenants_registrations_are_not_shown(actors, northwind):
    client_of(partner_user(actors, northwind)).post(PAGE, FORM)
    body = client_of(actors.outsider).get(PAGE).content.decode()
    assert "Acme GmbH" not in body


def test_the_deals_link_is_in_a_partner_users_menu(actors, northwind):
    body = client_of(partner_user(actors, northwind)).get("/").content.decode()
    assert 'href="/deals/"' in body


def test_the_page_query_count_does_not_grow_with_rows(
    actors, northwind, django_assert_max_num_queries
):
    client = client_of(partner_user(actors, northwind))
    for n in range(6):
        client.post(PAGE, {**FORM, "email": f"b{n}@firm{n}.de", "company_domain": f"firm{n}.de"})
    with django_assert_max_num_queries(12):
        assert client.get(PAGE).status_code == 200


def test_the_demo_partner_has_a_registration_that_became_a_lead_and_a_refused_one(db, small_demo):
    from io import StringIO

    from django.core.management import call_command

    from leadflow.tenancy.models import Tenant
    from leads.models import Lead

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # a second start adds no registration
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        rows = {r.status: r for r in DealRegistration.objects.all()}
        assert sorted(rows) == ["lead", "refused"]
        lead = Lead.objects.get(inquiry_id=rows["lead"].inquiry_id)
        assert lead.partner_id == rows["lead"].partner_id
        assert lead.protected_until is not None
