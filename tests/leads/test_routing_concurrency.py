"""Two routings at once take successive turns: the team's row lock serialises the rotation."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leads.models import AssignmentKind, Lead
from leads.services.routing import route_leads
from tests.conftest import make_actor, transactional_databases
from tests.factories import (
    LeadFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
    TenantFactory,
)
from tests.leads.conftest import future


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_a_routing_waits_for_the_other_to_commit_and_takes_the_next_turn():
    tenant = TenantFactory(slug="routing-race")
    team = TeamFactory(tenant=tenant, name="Central")
    RoutingRuleFactory(tenant=tenant, team=team, countries=["DE"])
    reps = [make_actor(tenant, Role.REP, user__full_name=name) for name in ("Ada", "Bo")]
    for rep in reps:
        TeamMemberFactory(tenant=tenant, team=team, membership=rep.membership)
    first, second = (
        LeadFactory(tenant=tenant, profile={"country": "DE"}, appointment__starts_at=future(days))
        for days in (2, 3)
    )
    by = Principal.system(tenant, "tests")
    routed = threading.Event()

    def slow():
        # Routes, then holds its transaction (and the team's lock) a moment longer.
        try:
            with tenant_context(tenant), transaction.atomic():
                route_leads(leads=[first], kind=AssignmentKind.ROUTED, by=by)
                routed.set()
                time.sleep(0.5)
        finally:
            connections.close_all()

    def eager():
        try:
            routed.wait(5)
            with tenant_context(tenant):
                route_leads(leads=[second], kind=AssignmentKind.ROUTED, by=by)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=slow), threading.Thread(target=eager)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with tenant_context(tenant):
        owners = [Lead.objects.get(pk=lead.pk).rep_id for lead in (first, second)]
    assert owners == [reps[0].user.pk, reps[1].user.pk]
