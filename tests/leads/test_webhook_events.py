"""Lead events reach partners' webhook endpoints; an offer never names the buyer."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from leadflow.outbox.endpoints import services as endpoint_services
from leadflow.outbox.models import WebhookDelivery
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leads.models import Lead, LeadSettings
from leads.services.booking import book_appointment
from leads.services.compliance import enforce_partner_compliance
from leads.services.digests import queue_missing_update_digests
from leads.services.lifecycle import accept_lead
from leads.services.ownership import change_owner
from tests.conftest import make_actor
from tests.factories import (
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
    WeeklyUpdateFactory,
)
from tests.leads.conftest import future

BUYER = {
    "first_name": "Ursula",
    "last_name": "Quist",
    "email": "ursula@freight.test",
    "phone": "+49 30 1234567",
}
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 12, 7)


@pytest.fixture
def partner(actors):
    return PartnerFactory(
        tenant=actors.tenant_a, name="Northwind", contact_email="leads@northwind.test"
    )


@pytest.fixture
def endpoint(actors, partner):
    with tenant_context(actors.tenant_a):
        return endpoint_services.create_endpoint(
            partner=partner,
            url="https://crm.northwind.example/hooks",
            events=[
                "lead.offered",
                "lead.assigned",
                "lead.reassigned",
                "lead.recalled",
                "lead.reminder",
                "partner.warning",
                "partner.suspended",
                "partner.reinstated",
            ],
            by=Principal.system(actors.tenant_a, "tests"),
        ).endpoint


@pytest.fixture
def central(actors, partner):
    team = TeamFactory(tenant=actors.tenant_a, name="Central")
    RoutingRuleFactory(tenant=actors.tenant_a, name="DACH", team=team, countries=["DE"])
    TeamMemberFactory(tenant=actors.tenant_a, team=team, partner=partner)
    return team


def book(actors) -> Lead:
    inquiry = InquiryFactory(
        tenant=actors.tenant_a, stage="mql", country="DE", company="Freight Co", **BUYER
    )
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry, starts_at=future(days=3), by=actors.teammate.principal
        )


def events(actors) -> list[tuple[str, dict]]:
    with tenant_context(actors.tenant_a):
        rows = WebhookDelivery.objects.select_related("message").order_by("id")
        return [(d.event_type, d.message.payload["data"]) for d in rows]


def test_a_routed_offer_is_published_without_the_buyers_contact_details(actors, endpoint, central):
    lead = book(actors)
    [(event, data)] = events(actors)
    assert event == "lead.offered"
    assert data["lead"]["id"] == lead.pk
    assert data["lead"]["company"] == "Freight Co"
    text = json.dumps(data)
    for value in BUYER.values():
        assert value not in text
    assert "buyer" not in data["lead"]


def test_accepting_the_offer_publishes_the_assignment_with_the_buyer(actors, endpoint, central):
    lead = book(actors)
    dealer = Principal(tenant=actors.tenant_a, role=None, via="api_key", partner=endpoint.partner)
    with tenant_context(actors.tenant_a):
        accept_lead(lead=Lead.objects.get(pk=lead.pk), by=dealer)
    assert [event for event, _ in events(actors)] == ["lead.offered", "lead.assigned"]
    _, data = events(actors)[1]
    assert data["lead"]["buyer"]["email"] == BUYER["email"]
    assert data["lead"]["stage"] == "accepted"


def test_a_manager_taking_the_lead_away_publishes_reassigned(actors, endpoint, central):
    lead = book(actors)
    rep = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a):
        change_owner(lead=Lead.objects.get(pk=lead.pk), rep=rep.user, by=actors.owner.principal)
    event, data = events(actors)[-1]
    assert event == "lead.reassigned"
    assert data == {"lead": {"id": lead.pk}, "reason": "reassigned"}


def test_a_manager_giving_an_accepted_lead_to_the_partner_publishes_assigned(
    actors, endpoint, partner, rep_a
):
    lead = book_for_rep(actors, rep_a)
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage="accepted")
        change_owner(lead=Lead.objects.get(pk=lead.pk), partner=partner, by=actors.owner.principal)
    [(event, data)] = events(actors)
    assert event == "lead.assigned"
    assert data["lead"]["buyer"]["last_name"] == BUYER["last_name"]


def book_for_rep(actors, rep) -> Lead:
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql", company="Freight Co", **BUYER)
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry, starts_at=future(days=3), rep=rep.user, by=actors.teammate.principal
        )


def test_no_endpoint_means_nothing_is_published(actors, partner, central):
    book(actors)
    assert events(actors) == []


def test_an_endpoint_not_subscribed_to_offers_gets_none(actors, endpoint, central):
    with tenant_context(actors.tenant_a):
        endpoint_services.update_endpoint(
            endpoint=endpoint, events=["lead.assigned"], by=actors.owner.principal
        )
    book(actors)
    assert events(actors) == []


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


@pytest.fixture
def berlin(actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save()
    return actors.tenant_a


def partner_lead(tenant, partner, assigned_at, reported=()):
    lead = LeadFactory(
        tenant=tenant,
        stage="accepted",
        partner=partner,
        assigned_at=assigned_at,
        accepted_at=assigned_at,
        inquiry=InquiryFactory(tenant=tenant, first_name="Pat", last_name="Buyer"),
    )
    for monday in reported:
        WeeklyUpdateFactory(tenant=tenant, lead=lead, week=monday)
    return lead


def test_a_compliance_warning_is_published(berlin, partner, endpoint):
    two_weeks_ago = MONDAY - timedelta(weeks=2)
    partner_lead(berlin, partner, at(two_weeks_ago, 9), reported=[two_weeks_ago])
    with time_machine.travel(at(MONDAY, 9), tick=False), tenant_context(berlin):
        enforce_partner_compliance()
    [(event, data)] = [e for e in events_of(berlin) if e[0].startswith("partner.")]
    assert event == "partner.warning"
    assert data["partner"] == {"id": partner.pk, "name": "Northwind"}
    assert "No updates for 1 week" in data["reason"]


def test_a_suspension_is_published_and_the_recall_too(berlin, partner, endpoint):
    make_actor(berlin, Role.REP, user__full_name="Riley Rep")
    with tenant_context(berlin):
        LeadSettings.objects.update_or_create(
            tenant=berlin, defaults={"recall_on_suspension": True}
        )
    three_weeks_ago = MONDAY - timedelta(weeks=3)
    lead = partner_lead(berlin, partner, at(three_weeks_ago, 9), reported=[three_weeks_ago])
    with time_machine.travel(at(MONDAY, 9), tick=False), tenant_context(berlin):
        enforce_partner_compliance()
    kinds = [event for event, _ in events_of(berlin)]
    assert "partner.suspended" in kinds
    recalled = [data for event, data in events_of(berlin) if event == "lead.recalled"]
    assert recalled == [{"lead": {"id": lead.pk}, "reason": "partner_suspended"}]


def test_the_monday_digest_publishes_a_reminder(berlin, partner, endpoint):
    lead = LeadFactory(
        tenant=berlin,
        stage="accepted",
        partner=partner,
        assigned_at=at(MONDAY, 9) - timedelta(weeks=2),
        inquiry=InquiryFactory(tenant=berlin),
    )
    with time_machine.travel(at(MONDAY, 7), tick=False), tenant_context(berlin):
        queue_missing_update_digests()
    [(event, data)] = events_of(berlin)
    assert event == "lead.reminder"
    assert data["week"] == "2026-W50"
    assert [row["id"] for row in data["leads"]] == [lead.pk]


def events_of(tenant) -> list[tuple[str, dict]]:
    with tenant_context(tenant):
        rows = WebhookDelivery.objects.select_related("message").order_by("id")
        return [(d.event_type, d.message.payload["data"]) for d in rows]
