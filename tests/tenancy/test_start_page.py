"""The start page: each role's tiles of what needs doing now, counted in the viewer's tenant."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadflow.lib import start_page
from leadflow.lib.start_page import Tile
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import (
    ImportJobFactory,
    InquiryFactory,
    LeadDefinitionFactory,
    LeadFactory,
    PartnerFactory,
)

TILE = re.compile(r'data-testid="tile-([\w.]+)".*?data-testid="tile-count">(\d+)\+?<', re.S)


def tiles_seen(client: Client) -> dict[str, int]:
    response = client.get("/")
    assert response.status_code == 200
    return {key: int(count) for key, count in TILE.findall(response.content.decode())}


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER)


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP)


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER)


def test_qualifier_sees_the_triage_tiles_and_no_manager_tiles(qualifier):
    seen = tiles_seen(client_of(qualifier))
    assert {"inquiries.new", "inquiries.mql", "inquiries.mql_mine", "inquiries.duplicates"} <= set(
        seen
    )
    assert "imports.problems" in seen
    assert "tenancy.partners" not in seen
    assert "definition.drafts" not in seen
    assert "leads.awaiting_mine" not in seen


def test_manager_sees_definition_partners_and_leads_awaiting(manager):
    seen = tiles_seen(client_of(manager))
    assert {"definition.drafts", "tenancy.partners", "leads.awaiting", "inquiries.mql"} <= set(seen)
    assert "inquiries.mql_mine" not in seen


def test_rep_sees_only_the_leads_awaiting_their_acceptance(actors, rep):
    other_rep = make_actor(actors.tenant_a, Role.REP)
    LeadFactory.create_batch(2, tenant=actors.tenant_a, rep=rep.user)
    LeadFactory(tenant=actors.tenant_a, rep=rep.user, stage="accepted")
    LeadFactory(tenant=actors.tenant_a, rep=other_rep.user)
    assert tiles_seen(client_of(rep)) == {"leads.awaiting_mine": 2}


def test_rep_tile_lists_the_buyer_of_each_lead(actors, rep):
    LeadFactory(
        tenant=actors.tenant_a,
        rep=rep.user,
        profile={"first_name": "Ada", "last_name": "Byron", "company": "Engines Ltd"},
    )
    html = client_of(rep).get("/").content.decode()
    assert "Ada Byron" in html and "Engines Ltd" in html


def test_partner_user_sees_their_partners_open_leads_only(actors):
    northwind = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    other = PartnerFactory(tenant=actors.tenant_a)
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=northwind)
    LeadFactory.create_batch(3, tenant=actors.tenant_a, partner=northwind)
    LeadFactory(tenant=actors.tenant_a, partner=northwind, stage="won")
    LeadFactory(tenant=actors.tenant_a, partner=other)
    assert tiles_seen(client_of(partner_user)) == {"leads.partner_open": 3}


def test_new_this_week_counts_inquiries_of_the_last_seven_days(actors, qualifier):
    now = timezone.now()
    InquiryFactory.create_batch(2, tenant=actors.tenant_a, created_at=now - timedelta(days=1))
    InquiryFactory(tenant=actors.tenant_a, created_at=now - timedelta(days=9))
    assert tiles_seen(client_of(qualifier))["inquiries.new"] == 2


def test_mql_tiles_count_the_queue_and_the_qualifiers_own(actors, qualifier):
    InquiryFactory.create_batch(3, tenant=actors.tenant_a, stage="mql")
    InquiryFactory(tenant=actors.tenant_a, stage="mql", assigned_to=qualifier.user)
    InquiryFactory(tenant=actors.tenant_a, stage="nurture", assigned_to=qualifier.user)
    seen = tiles_seen(client_of(qualifier))
    assert seen["inquiries.mql"] == 4
    assert seen["inquiries.mql_mine"] == 1


def test_mql_tile_links_to_the_inbox_filtered_to_mqls(qualifier):
    html = client_of(qualifier).get("/").content.decode()
    assert 'href="/inquiries/?stage=mql&amp;sort=score"' in html
    assert 'href="/inquiries/?stage=mql&amp;assigned=me&amp;sort=score"' in html


def test_definition_tile_counts_drafts_still_lacking_a_sign_off(actors, manager):
    LeadDefinitionFactory(tenant=actors.tenant_a, version=1)
    LeadDefinitionFactory.create_batch(2, tenant=actors.tenant_a, status="draft")
    html = client_of(manager).get("/").content.decode()
    assert tiles_seen(client_of(manager))["definition.drafts"] == 2
    assert "Version 1 is active." in html


def test_import_tile_counts_finished_imports_with_skipped_rows(actors):
    marketer = actors.teammate
    finished = timezone.now() - timedelta(days=1)
    ImportJobFactory(
        tenant=actors.tenant_a, status="done", new_count=5, invalid_count=2, finished_at=finished
    )
    ImportJobFactory(tenant=actors.tenant_a, status="done", new_count=5, finished_at=finished)
    ImportJobFactory(tenant=actors.tenant_a, status="running")
    seen = tiles_seen(client_of(marketer))
    assert seen["imports.problems"] == 1
    assert seen["imports.running"] == 1


def test_another_tenants_rows_are_never_counted(actors, manager, qualifier):
    b = actors.tenant_b
    InquiryFactory.create_batch(2, tenant=b, stage="mql")
    LeadFactory(tenant=b)
    PartnerFactory(tenant=b)
    LeadDefinitionFactory(tenant=b, status="draft")
    ImportJobFactory(tenant=b, status="running")
    assert set(tiles_seen(client_of(manager)).values()) == {0}
    assert set(tiles_seen(client_of(qualifier)).values()) == {0}


def test_outsider_sees_their_own_tenants_counts(actors):
    InquiryFactory.create_batch(2, tenant=actors.tenant_a, stage="mql")
    InquiryFactory(tenant=actors.tenant_b, stage="mql")
    assert tiles_seen(client_of(actors.outsider))["inquiries.mql"] == 1


def test_a_registered_tile_shows_to_its_audience_only(actors, qualifier, rep):
    def source(principal):
        return [Tile(key="test.extra", label="Extra", count=7, url="/extra/")]

    start_page.register("test.extra", source, audiences=(Role.QUALIFIER,))
    try:
        assert tiles_seen(client_of(qualifier))["test.extra"] == 7
        assert "test.extra" not in tiles_seen(client_of(rep))
    finally:
        start_page._registry.pop("test.extra")


def _home_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.QUALIFIER, Role.MARKETER])
def test_start_page_queries_do_not_grow_with_rows(actors, role):
    viewer = make_actor(actors.tenant_a, role)
    client = client_of(viewer)
    InquiryFactory(tenant=actors.tenant_a, stage="mql")
    LeadFactory(tenant=actors.tenant_a)
    few = _home_queries(client)
    InquiryFactory.create_batch(20, tenant=actors.tenant_a, stage="mql")
    LeadFactory.create_batch(10, tenant=actors.tenant_a)
    PartnerFactory.create_batch(3, tenant=actors.tenant_a)
    LeadDefinitionFactory.create_batch(3, tenant=actors.tenant_a, status="draft")
    assert _home_queries(client) == few


def test_rep_start_page_queries_do_not_grow_with_leads(actors, rep):
    client = client_of(rep)
    LeadFactory(tenant=actors.tenant_a, rep=rep.user)
    few = _home_queries(client)
    LeadFactory.create_batch(12, tenant=actors.tenant_a, rep=rep.user)
    assert _home_queries(client) == few
