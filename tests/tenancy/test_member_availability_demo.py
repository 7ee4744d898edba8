"""The demo's people: one Acme rep on leave this week, capacities, the partner's tier."""

from __future__ import annotations

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.demo import DEMO_PARTNER, DEMO_REP_ON_LEAVE, seed_demo_people
from leadflow.tenancy.models import Membership, Partner, Tenant


def test_the_demo_has_a_rep_on_leave_today_capacities_and_a_gold_partner(db):
    seed_demo_people()
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        away = Membership.objects.get(user__email=DEMO_REP_ON_LEAVE)
        rep = Membership.objects.get(user__email="rep@acme.example")
        partner = Partner.objects.get(name=DEMO_PARTNER)
    assert away.on_leave(services.tenant_today(acme))
    assert not rep.on_leave(services.tenant_today(acme))
    assert (rep.capacity, away.capacity) == (40, 30)
    assert (partner.tier, partner.capacity) == ("gold", 25)


def test_seeding_again_keeps_what_someone_changed(db):
    seed_demo_people()
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        Membership.objects.filter(user__email="rep@acme.example").update(capacity=5)
    seed_demo_people()
    with tenant_context(acme):
        assert Membership.objects.get(user__email="rep@acme.example").capacity == 5
