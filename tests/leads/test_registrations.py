"""Deal registration (the service): who may register, validation, first to register wins,
and the protection a registered deal's lead gets at booking, which recall respects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from inquiries.models import Inquiry, Source
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import PartnerStatus, Role
from leadflow.tenancy.principal import Principal
from leads.models import (
    Assignment,
    AssignmentKind,
    DealRegistration,
    Lead,
    LeadSettings,
    RegistrationStatus,
)
from leads.services.booking import book_appointment
from leads.services.registrations import ALREADY_OWNED, register_deal
from leads.services.routing import recall_leads
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory

MONDAY = datetime(2027, 1, 4, 10, tzinfo=UTC)
THURSDAY = datetime(2027, 1, 7, 10, tzinfo=UTC)  # past Monday's 2-business-day window


@pytest.fixture
def northwind(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


@pytest.fixture
def contoso(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Contoso")


def partner_principal(actors, partner) -> Principal:
    """A partner user's principal, as the session and user tokens build it."""
    membership = make_actor(actors.tenant_a, Role.REP, partner=partner).membership
    return Principal(
        tenant=actors.tenant_a,
        role=membership.role,
        via="session",
        user=membership.user,
        membership=membership,
        partner=partner,
    )


def register(actors, partner, by=None, **fields) -> DealRegistration:
    buyer = {
        "company": "Acme GmbH",
        "company_domain": "acme.de",
        "first_name": "Ada",
        "last_name": "Berg",
        "email": "ada.berg@acme.de",
        "country": "DE",
        "need": "40 forklifts",
    }
    buyer.update(fields)
    principal = by or partner_principal(actors, partner)
    with tenant_context(actors.tenant_a):
        return register_deal(partner=partner, by=principal, **buyer)


def refused(actors, partner, **fields) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        register(actors, partner, **fields)
    return caught.value


def count(actors) -> int:
    with tenant_context(actors.tenant_a):
        return DealRegistration.objects.count()


# --- Registered ---------------------------------------------------------------------------


def test_a_registration_enters_the_buyer_as_the_partners_referral(actors, northwind):
    registration = register(actors, northwind)
    assert registration.status == RegistrationStatus.REGISTERED
    with tenant_context(actors.tenant_a):
        inquiry = Inquiry.objects.get(pk=registration.inquiry_id)
    assert (inquiry.partner_id, inquiry.source) == (northwind.pk, Source.PARTNER_REFERRAL)
    assert (inquiry.email, inquiry.company, inquiry.country) == (
        "ada.berg@acme.de",
        "Acme GmbH",
        "DE",
    )


def test_the_consent_is_the_one_the_partner_states(actors, northwind):
    registration = register(actors, northwind, consent="opted_in")
    with tenant_context(actors.tenant_a):
        assert Inquiry.objects.get(pk=registration.inquiry_id).consent == "opted_in"


def test_a_registration_holds_its_buyer_for_the_protection_window(actors, northwind):
    with time_machine.travel(MONDAY, tick=False):
        registration = register(actors, northwind)
    assert registration.protected_until == MONDAY + timedelta(days=90)


def test_a_buyer_known_only_to_marketing_is_registered_and_becomes_the_partners(actors, northwind):
    known = InquiryFactory(tenant=actors.tenant_a, email="ada.berg@acme.de", stage="mql")
    registration = register(actors, northwind)
    assert registration.inquiry_id == known.pk
    with tenant_context(actors.tenant_a):
        assert Inquiry.objects.get(pk=known.pk).partner_id == northwind.pk


def test_a_domain_without_email_is_enough(actors, northwind):
    registration = register(actors, northwind, email="", company_domain="https://www.acme.de/")
    assert (registration.status, registration.company_domain) == ("registered", "acme.de")


# --- Who may register ---------------------------------------------------------------------


def test_a_member_who_is_not_a_partner_cannot_register(actors, northwind):
    error = refused(actors, northwind, by=actors.owner.principal)
    assert (error.field, error.code) == ("partner", "forbidden")
    assert count(actors) == 0


def test_a_partner_cannot_register_for_another_partner(actors, northwind, contoso):
    error = refused(actors, contoso, by=partner_principal(actors, northwind))
    assert (error.field, error.code) == ("partner", "forbidden")


def test_a_suspended_partner_is_refused_with_its_reason(actors, northwind):
    by = partner_principal(actors, northwind)
    northwind.status = PartnerStatus.SUSPENDED
    northwind.suspension_reason = "2 weeks of updates missing"
    with tenant_context(actors.tenant_a):
        northwind.save()
    error = refused(actors, northwind, by=by)
    assert (error.field, error.code) == ("partner", "suspended")
    assert "2 weeks of updates missing" in error.message
    assert count(actors) == 0


# --- Validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"company": "  "}, "company", "required"),
        ({"company": "x" * 201}, "company", "too_long"),
        ({"email": "not-an-email"}, "email", "invalid"),
        ({"email": "", "company_domain": ""}, "email", "identity_required"),
        ({"company_domain": "not a domain"}, "company_domain", "invalid"),
        ({"country": "XX"}, "country", "invalid"),
        ({"country": "Germany"}, "country", "invalid"),
        ({"need": "x" * 2001}, "need", "too_long"),
        ({"phone": "12"}, "phone", "invalid"),
        ({"first_name": "x" * 101}, "first_name", "too_long"),
        ({"consent": "maybe"}, "consent", "invalid_choice"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_writes_nothing(
    actors, northwind, fields, field, code
):
    error = refused(actors, northwind, **fields)
    assert (error.field, error.code) == (field, code)
    assert count(actors) == 0
    with tenant_context(actors.tenant_a):
        assert not Inquiry.objects.exists()


def test_a_need_of_2000_characters_is_accepted(actors, northwind):
    assert register(actors, northwind, need="x" * 2000).status == "registered"


# --- First to register wins ---------------------------------------------------------------


def test_a_buyer_with_an_open_lead_is_refused_by_email_ignoring_case(actors, northwind):
    LeadFactory(
        tenant=actors.tenant_a,
        inquiry=InquiryFactory(tenant=actors.tenant_a, email="ada.berg@acme.de"),
    )
    registration = register(actors, northwind, email="Ada.Berg@ACME.de", company_domain="")
    assert (registration.status, registration.reason) == ("refused", ALREADY_OWNED)
    assert registration.inquiry_id is None


def test_a_buyer_whose_company_has_an_open_lead_is_refused_by_domain(actors, northwind):
    LeadFactory(
        tenant=actors.tenant_a,
        inquiry=InquiryFactory(
            tenant=actors.tenant_a, email="boss@acme.de", company_domain="acme.de"
        ),
    )
    registration = register(actors, northwind, email="", company_domain="ACME.de")
    assert registration.status == "refused"


def test_a_closed_lead_does_not_hold_the_buyer(actors, northwind):
    LeadFactory(
        tenant=actors.tenant_a,
        stage="lost",
        inquiry=InquiryFactory(tenant=actors.tenant_a, email="ada.berg@acme.de"),
    )
    assert register(actors, northwind).status == "registered"


def test_another_partners_referral_is_refused(actors, northwind, contoso):
    InquiryFactory(tenant=actors.tenant_a, email="ada.berg@acme.de", partner=contoso)
    registration = register(actors, northwind)
    assert registration.status == "refused"
    assert "Contoso" not in registration.reason


def test_another_partners_registration_is_refused_first_wins(actors, northwind, contoso):
    first = register(actors, contoso, email="", company_domain="acme.de")
    second = register(actors, northwind, email="someone@acme.de", company_domain="")
    assert (first.status, second.status) == ("registered", "refused")


def test_the_refusal_is_stored_and_changes_nothing_else(actors, northwind, contoso):
    register(actors, contoso)
    with tenant_context(actors.tenant_a):
        inquiries_before = Inquiry.objects.count()
    second = register(actors, northwind)
    with tenant_context(actors.tenant_a):
        stored = DealRegistration.objects.get(pk=second.pk)
        assert Inquiry.objects.count() == inquiries_before
    assert (stored.status, stored.reason, stored.partner_id) == (
        "refused",
        ALREADY_OWNED,
        northwind.pk,
    )


def test_an_expired_registration_no_longer_holds_the_buyer(actors, northwind, contoso):
    with time_machine.travel(MONDAY, tick=False):
        first = register(actors, contoso, email="", company_domain="acme.de")
    with time_machine.travel(MONDAY + timedelta(days=91), tick=False):
        second = register(actors, northwind, email="", company_domain="acme.de")
    assert (first.status, second.status) == ("registered", "registered")


def test_a_partner_may_register_its_own_buyer_again(actors, northwind):
    register(actors, northwind)
    assert register(actors, northwind).status == "registered"


# --- Protection at booking, and recall --------------------------------------------------------


def settings(actors, **fields) -> None:
    with tenant_context(actors.tenant_a):
        LeadSettings.objects.create(tenant=actors.tenant_a, **fields)


def book(actors, inquiry_id: int, at: datetime) -> Lead:
    with time_machine.travel(at, tick=False), tenant_context(actors.tenant_a):
        inquiry = Inquiry.objects.get(pk=inquiry_id)
        return book_appointment(
            inquiry=inquiry, starts_at=at + timedelta(days=10), by=actors.teammate.principal
        )


def test_booking_a_registered_deal_protects_the_lead_for_the_partner(actors, northwind):
    with time_machine.travel(MONDAY - timedelta(days=3), tick=False):
        registration = register(actors, northwind)
    lead = book(actors, registration.inquiry_id, MONDAY)
    until = MONDAY + timedelta(days=90)
    with tenant_context(actors.tenant_a):
        stored = DealRegistration.objects.get(pk=registration.pk)
        assignment = Assignment.objects.get(lead_id=lead.pk)
        assert Lead.objects.get(pk=lead.pk).protected_until == until
    assert (lead.partner_id, assignment.kind) == (northwind.pk, AssignmentKind.PROTECTED)
    assert (stored.status, stored.protected_until) == ("lead", until)


def test_the_protection_follows_the_tenants_setting(actors, northwind):
    settings(actors, protection_days=30)
    with time_machine.travel(MONDAY, tick=False):
        registration = register(actors, northwind)
    lead = book(actors, registration.inquiry_id, MONDAY + timedelta(days=1))
    assert lead.protected_until == MONDAY + timedelta(days=31)


def test_a_plain_referral_is_not_protected(actors, northwind):
    referred = InquiryFactory(tenant=actors.tenant_a, partner=northwind, stage="mql")
    lead = book(actors, referred.pk, MONDAY)
    with tenant_context(actors.tenant_a):
        assert Assignment.objects.get(lead_id=lead.pk).kind == AssignmentKind.REFERRAL
    assert lead.protected_until is None


def test_recall_skips_a_protected_lead_not_accepted_in_time(actors, northwind):
    make_actor(actors.tenant_a, Role.REP)  # someone recall could give the lead to
    with time_machine.travel(MONDAY - timedelta(hours=1), tick=False):
        registration = register(actors, northwind)
    lead = book(actors, registration.inquiry_id, MONDAY)
    with time_machine.travel(THURSDAY, tick=False), tenant_context(actors.tenant_a):
        done = recall_leads()
        assert Lead.objects.get(pk=lead.pk).partner_id == northwind.pk
    assert done.unaccepted == []


def test_recall_takes_an_unprotected_referral_not_accepted_in_time(actors, northwind):
    rep = make_actor(actors.tenant_a, Role.REP)
    referred = InquiryFactory(tenant=actors.tenant_a, partner=northwind, stage="mql")
    lead = book(actors, referred.pk, MONDAY)
    with time_machine.travel(THURSDAY, tick=False), tenant_context(actors.tenant_a):
        done = recall_leads()
        assert Lead.objects.get(pk=lead.pk).rep_id == rep.user.pk
    assert done.unaccepted == [lead.pk]


def test_recall_takes_the_lead_once_its_protection_has_ended(actors, northwind):
    make_actor(actors.tenant_a, Role.REP)
    settings(actors, protection_days=1)
    with time_machine.travel(MONDAY - timedelta(hours=1), tick=False):
        registration = register(actors, northwind)
    lead = book(actors, registration.inquiry_id, MONDAY)
    with time_machine.travel(THURSDAY, tick=False), tenant_context(actors.tenant_a):
        assert recall_leads().unaccepted == [lead.pk]


def test_the_protected_partners_own_cannot_serve_still_reroutes(actors, northwind):
    from leads.services.lifecycle import reject_lead

    rep = make_actor(actors.tenant_a, Role.REP)
    by = partner_principal(actors, northwind)
    with time_machine.travel(MONDAY - timedelta(hours=1), tick=False):
        registration = register(actors, northwind, by=by)
    lead = book(actors, registration.inquiry_id, MONDAY)
    with (
        time_machine.travel(MONDAY + timedelta(hours=1), tick=False),
        tenant_context(actors.tenant_a),
    ):
        reject_lead(lead=lead, kind="cannot_serve", reason="no capacity", by=by)
        after = Lead.objects.get(pk=lead.pk)
    assert (after.rep_id, after.partner_id) == (rep.user.pk, None)


# --- The protection_days setting ----------------------------------------------------------


@pytest.mark.parametrize("days", [0, 365])
def test_protection_days_of_0_to_365_are_accepted(actors, days):
    from leads.services.settings import update_lead_settings

    with tenant_context(actors.tenant_a):
        update_lead_settings(by=actors.owner.principal, protection_days=days)
        assert LeadSettings.objects.get().protection_days == days


@pytest.mark.parametrize("days", [-1, 366, True])
def test_protection_days_out_of_range_are_refused(actors, days):
    from leads.services.settings import update_lead_settings

    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as caught:
        update_lead_settings(by=actors.owner.principal, protection_days=days)
    assert (caught.value.field, caught.value.code) == ("protection_days", "out_of_range")


def test_the_api_reads_and_changes_protection_days(actors):
    api = actors.owner.api()
    assert api.get("/api/v1/lead-settings/").json()["protection_days"] == 90
    response = api.patch("/api/v1/lead-settings/", {"protection_days": 45}, format="json")
    assert response.json()["protection_days"] == 45
