"""'Your settings': a person sets their own name and the time zone they read times in."""

from __future__ import annotations

import pytest

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, actors):
    client.force_login(actors.owner.user)
    return client


def reload(user) -> User:
    return User.objects.get(pk=user.pk)


def test_the_settings_page_offers_the_iana_zones_with_the_tenants_as_default(owner_client, actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save(update_fields=["timezone"])

    response = owner_client.get("/settings/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "The organisation&#x27;s: Europe/Berlin" in content
    assert '<option value="America/New_York">' in content


def test_a_person_picks_their_own_zone_and_name(owner_client, actors):
    response = owner_client.post(
        "/settings/", {"full_name": "  Dana   Whitfield ", "timezone": "America/New_York"}
    )

    assert response.status_code == 302
    user = reload(actors.owner.user)
    assert (user.full_name, user.timezone) == ("Dana Whitfield", "America/New_York")


def test_an_unknown_zone_is_refused_with_a_message_and_nothing_changes(owner_client, actors):
    response = owner_client.post("/settings/", {"full_name": "Dana", "timezone": "Mars/Olympus"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert reload(actors.owner.user).full_name == ""


def test_a_blank_zone_goes_back_to_the_tenants(owner_client, actors):
    actors.owner.user.timezone = "Asia/Tokyo"
    actors.owner.user.save(update_fields=["timezone"])

    owner_client.post("/settings/", {"full_name": "", "timezone": ""})

    assert reload(actors.owner.user).timezone == ""


def test_the_change_is_audited_in_the_tenant(owner_client, actors):
    owner_client.post("/settings/", {"full_name": "Dana Whitfield", "timezone": "Europe/Paris"})

    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="user.settings_changed")
    assert event.before == {"full_name": "", "timezone": ""}
    assert event.after == {"full_name": "Dana Whitfield", "timezone": "Europe/Paris"}


def test_a_person_outside_any_tenant_gets_404(client):
    client.force_login(UserFactory())

    assert client.get("/settings/").status_code == 404


def test_the_settings_are_always_the_callers_own(owner_client, actors):
    """There is no user id to aim at: another person's settings cannot be reached."""
    owner_client.post(
        "/settings/",
        {"full_name": "Hijack", "timezone": "Asia/Tokyo", "user": actors.outsider.user.pk},
    )

    assert reload(actors.outsider.user).full_name == ""
    assert reload(actors.owner.user).full_name == "Hijack"


def test_the_service_refuses_an_unknown_zone(actors):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        services.update_my_settings(
            full_name="", timezone_name="Nowhere/Town", by=actors.owner.principal
        )
    assert refused.value.field == "timezone"


def test_the_service_refuses_a_caller_who_is_not_a_person(actors, system_a):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation):
        services.update_my_settings(full_name="Robot", timezone_name="", by=system_a)
