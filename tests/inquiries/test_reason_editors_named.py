"""Marketers and qualifiers cannot add disqualify reasons: the pages say who can, by name."""

from __future__ import annotations

import pytest

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory, UserFactory


@pytest.fixture
def people(actors):
    """Dana the admin (the owner), Morgan a manager, Quinn a qualifier; one inquiry."""
    InquiryFactory(tenant=actors.tenant_a)
    actors.owner.user.full_name = "Dana Whitfield"
    actors.owner.user.save(update_fields=["full_name"])
    manager = make_actor(actors.tenant_a, Role.MANAGER, user=UserFactory(full_name="Morgan Ellis"))
    qualifier = make_actor(
        actors.tenant_a, Role.QUALIFIER, user=UserFactory(full_name="Quinn Albright")
    )
    return {"manager": manager, "qualifier": qualifier}


def page_as(client, actor, path: str) -> str:
    client.force_login(actor.user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_empty_reason_list_tells_a_qualifier_whom_to_ask(client, people):
    page = page_as(client, people["qualifier"], "/inquiries/disqualify-reasons/")
    assert "inquiries cannot be disqualified" in page
    assert "Dana Whitfield" in page and "Morgan Ellis" in page
    assert 'name="label"' not in page  # no add form for them


def test_the_reasons_page_says_admins_and_managers_add_reasons(client, actors, people):
    page = page_as(client, actors.teammate, "/inquiries/disqualify-reasons/")
    assert "Admins and managers add, rename and retire reasons" in page
    assert "marketers and qualifiers choose from them" in page


def test_the_inbox_names_whom_to_ask_when_there_is_no_reason(client, people):
    page = page_as(client, people["qualifier"], "/inquiries/")
    assert "No disqualify reasons yet" in page
    assert "Admins and managers add them: ask" in page
    assert "Dana Whitfield" in page and "Morgan Ellis" in page


def test_an_admin_is_invited_to_add_the_first_reason_instead(client, actors, people):
    page = page_as(client, actors.owner, "/inquiries/")
    assert "add the first" in page
    assert "Admins and managers add them: ask" not in page


def test_a_deactivated_manager_is_not_named(client, actors, people):
    with tenant_context(actors.tenant_a):
        services.deactivate_member(
            membership=people["manager"].membership, by=actors.owner.principal
        )
    page = page_as(client, people["qualifier"], "/inquiries/disqualify-reasons/")
    assert "Dana Whitfield" in page
    assert "Morgan Ellis" not in page
