"""People are shown by name (their email in a tooltip), and a partner's user as the partner's."""

from __future__ import annotations

import pytest

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def named(actors):
    for actor, name in ((actors.owner, "Dana Whitfield"), (actors.teammate, "Marco Reyes")):
        actor.user.full_name = name
        actor.user.save(update_fields=["full_name"])
    return actors


@pytest.fixture
def partner_user(actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    return make_actor(actors.tenant_a, Role.REP, partner=partner, user__full_name="Nora Lind")


def content_of(client, user, path: str) -> str:
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_top_bar_shows_the_persons_name_and_role(client, named):
    content = content_of(client, named.owner.user, "/")

    assert "Dana Whitfield" in content
    assert 'data-testid="role">Admin<' in content


def test_a_partner_users_role_reads_partner_and_the_partners_name(client, partner_user):
    content = content_of(client, partner_user.user, "/")

    assert 'data-testid="role">Partner — Northwind<' in content
    assert "You work here as <strong>Partner — Northwind</strong>" in content
    assert "Sales rep" not in content


def test_the_inbox_shows_the_assignee_by_name_with_the_email_as_tooltip(client, named):
    inquiry = InquiryFactory(tenant=named.tenant_a)
    with tenant_context(named.tenant_a):
        Inquiry.objects.filter(pk=inquiry.pk).update(assigned_to=named.owner.user)

    content = content_of(client, named.teammate.user, "/inquiries/")

    assert f'<span title="{named.owner.user.email}">Dana Whitfield</span>' in content


def test_the_assign_list_names_people_in_alphabetical_order(client, named, actors):
    make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Aaron Abbott")
    InquiryFactory(tenant=actors.tenant_a)  # the bulk bar shows with a row to act on

    content = content_of(client, named.teammate.user, "/inquiries/")

    assign = content[content.index('name="assignee"') :]
    assert assign.index("Aaron Abbott") < assign.index("Dana Whitfield")
    assert assign.index("Dana Whitfield") < assign.index("Marco Reyes")
    assert f">{named.owner.user.email}" not in assign[: assign.index("</select>")]


def test_someone_without_a_name_is_shown_by_email(client, actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        Inquiry.objects.filter(pk=inquiry.pk).update(assigned_to=actors.owner.user)

    content = content_of(client, actors.teammate.user, "/inquiries/")

    assert actors.owner.user.email in content


def test_the_admin_lists_members_by_name_and_partner_role(client, named, partner_user):
    content = content_of(client, named.owner.user, "/admin/tenancy/membership/")

    assert "Nora Lind" in content
    assert "Partner — Northwind" in content
    assert "Dana Whitfield" in content
