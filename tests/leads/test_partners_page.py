"""``/partners/overview/``: the managers' partners page — figures, access, and its query count."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, WeeklyUpdateFactory

URL = "/partners/overview/"
# Wednesday of 2026-W53 (Monday 28 December), noon UTC; the tenants run on UTC.
NOW = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)
W53 = date(2026, 12, 28)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


def as_(client, actor):
    client.force_login(actor.user)
    return client


def lead_of(tenant, partner, stage="accepted", accepted_after=None, **kwargs):
    assigned = NOW - timedelta(days=20)
    return LeadFactory(
        tenant=tenant,
        inquiry=InquiryFactory(tenant=tenant, stage="lead", company="Buyer Inc"),
        partner=partner,
        stage=stage,
        assigned_at=assigned,
        accepted_at=assigned + accepted_after if accepted_after is not None else None,
        **kwargs,
    )


def row(page: str, partner) -> str:
    start = page.index(f'data-partner="{partner.pk}"')
    return page[start : page.index("</tr>", start)]


def cell(text: str, name: str) -> str:
    start = text.index(f'data-testid="{name}">') + len(f'data-testid="{name}">')
    return text[start : text.index("</td>", start)]


@pytest.fixture
def seeded(actors):
    """Northwind: 3 open (one reported this week), 2 won, 1 lost; Contoso: nothing yet."""
    tenant = actors.tenant_a
    northwind = PartnerFactory(tenant=tenant, name="Northwind")
    contoso = PartnerFactory(tenant=tenant, name="Contoso")
    reported = lead_of(tenant, northwind, accepted_after=timedelta(hours=2))
    lead_of(tenant, northwind, accepted_after=timedelta(hours=4))
    lead_of(tenant, northwind, stage="awaiting_acceptance")
    lead_of(tenant, northwind, stage="won", accepted_after=timedelta(hours=6))
    lead_of(tenant, northwind, stage="won", accepted_after=timedelta(hours=8))
    lead_of(tenant, northwind, stage="lost", accepted_after=timedelta(hours=10))
    WeeklyUpdateFactory(
        tenant=tenant,
        lead=reported,
        week=W53,
        partner=northwind,
        created_at=NOW - timedelta(hours=1),
    )
    return northwind, contoso


def test_the_page_shows_each_partners_figures(client, actors, manager, seeded):
    northwind, contoso = seeded
    page = as_(client, manager).get(URL).content.decode()
    mine = row(page, northwind)
    assert cell(mine, "open") == "3"
    assert (
        cell(mine, "missing") == "<strong>1</strong>"
    )  # the second accepted lead owes this week's update
    assert cell(mine, "acceptance").strip() == "6 h"  # median of 2, 4, 6, 8, 10 hours
    assert "67%" in cell(mine, "win-rate") and "2 of 3 closed" in cell(mine, "win-rate")
    assert "<time" in cell(mine, "last-report")
    empty = row(page, contoso)
    assert cell(empty, "open") == "0" and cell(empty, "win-rate") == "<span>—</span>"
    assert cell(empty, "last-report") == "never"


def test_the_query_count_does_not_grow_with_partners(
    client, actors, manager, seeded, django_assert_max_num_queries
):
    client = as_(client, manager)
    client.get(URL)
    for n in range(5):
        lead_of(actors.tenant_a, PartnerFactory(tenant=actors.tenant_a, name=f"More {n}"))
    with django_assert_max_num_queries(11):
        assert client.get(URL).status_code == 200


def test_another_tenants_partners_are_not_listed(client, actors, manager, seeded):
    theirs = PartnerFactory(tenant=actors.tenant_b, name="Their Dealer")
    page = as_(client, manager).get(URL).content.decode()
    assert "Their Dealer" not in page and f'data-partner="{theirs.pk}"' not in page


def test_reps_and_partner_users_may_not_open_it(client, actors, seeded):
    rep = make_actor(actors.tenant_a, Role.REP)
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=seeded[0])
    assert as_(client, rep).get(URL).status_code == 403
    assert as_(client, partner_user).get(URL).status_code == 403


def test_an_admin_gets_the_suspend_button_posting_to_the_status_route(client, actors, seeded):
    northwind, _ = seeded
    page = as_(client, actors.owner).get(URL).content.decode()
    assert f'action="/partners/{northwind.pk}/suspend/"' in row(page, northwind)
    response = client.post(f"/partners/{northwind.pk}/suspend/")
    assert response.status_code == 302
    page = client.get(URL).content.decode()
    assert f'action="/partners/{northwind.pk}/reactivate/"' in row(page, northwind)


def test_the_empty_state_points_to_the_partners_page(client, actors, manager):
    page = as_(client, manager).get(URL).content.decode()
    assert 'data-testid="empty"' in page and 'href="/partners/"' in page
