"""Quarterly targets: the service's rules (who, which quarter, what values) and its audit."""

from decimal import Decimal

import pytest
import time_machine

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Membership, Role
from leads.models import Target, Team
from leads.selectors.targets import Quarter, current_quarter, parse_quarter, target_sheet
from leads.services.targets import (
    TargetChange,
    TargetsRefused,
    delete_target,
    save_targets,
    set_target,
)
from tests.conftest import make_actor
from tests.factories import PartnerFactory

NOW = "2026-12-07 10:00:00+00:00"


@pytest.fixture(autouse=True)
def december_2026():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep").user


@pytest.fixture
def team(actors):
    with tenant_context(actors.tenant_a):
        return Team.objects.create(tenant=actors.tenant_a, name="North")


def set_a(actors, actor=None, **fields):
    fields.setdefault("year", 2026)
    fields.setdefault("quarter", 4)
    fields.setdefault("value", "25000")
    fields.setdefault("count", 10)
    with tenant_context(actors.tenant_a):
        return set_target(by=(actor or actors.owner).principal, **fields)


def stored(actors) -> int:
    """The tenant's targets (read in its scope: row-level security hides them outside)."""
    with tenant_context(actors.tenant_a):
        return Target.objects.count()


def refused(actors, **fields) -> RuleViolation:
    with pytest.raises(RuleViolation) as error:
        set_a(actors, **fields)
    assert stored(actors) == 0  # nothing saved
    return error.value


def test_a_reps_target_is_stored_with_value_and_count(actors, rep):
    target = set_a(actors, rep=rep)
    assert (target.year, target.quarter, target.rep_id) == (2026, 4, rep.pk)
    assert (target.value, target.count) == (Decimal("25000.00"), 10)


def test_setting_it_again_replaces_the_same_row(actors, rep):
    first = set_a(actors, rep=rep)
    second = set_a(actors, rep=rep, value="30000.50", count=None)
    assert second.pk == first.pk
    assert stored(actors) == 1
    assert (second.value, second.count) == (Decimal("30000.50"), None)


def test_each_change_is_audited_with_before_and_after(actors, team):
    set_a(actors, team=team)
    set_a(actors, team=team, count=12)
    with tenant_context(actors.tenant_a):
        events = list(AuditEvent.objects.filter(action="target.set").order_by("id"))
    assert [e.before for e in events] == [None, events[0].after]
    assert events[1].after["count"] == 12


def test_a_partner_and_a_team_can_have_targets(actors, team):
    partner = PartnerFactory(tenant=actors.tenant_a)
    assert set_a(actors, partner=partner).partner_id == partner.pk
    assert set_a(actors, team=team).team_id == team.pk


def test_no_owner_is_refused(actors):
    assert refused(actors).field == "owner"


def test_two_owners_are_refused(actors, rep, team):
    assert refused(actors, rep=rep, team=team).code == "one_owner"


def test_a_marketer_is_not_a_rep(actors):
    assert refused(actors, rep=actors.teammate.user).code == "not_a_rep"


def test_a_former_member_is_refused(actors, rep):
    with tenant_context(actors.tenant_a):
        Membership.objects.filter(user=rep).update(is_active=False)
    assert refused(actors, rep=rep).code == "not_a_member"


def test_another_tenants_member_is_refused(actors):
    assert refused(actors, rep=actors.outsider.user).code == "not_a_member"


def test_another_tenants_partner_is_refused(actors):
    partner = PartnerFactory(tenant=actors.tenant_b)
    assert refused(actors, partner=partner).field == "partner"


@pytest.mark.parametrize("value", ["-1", "1.001", "1000000000000", "abc", "NaN", True])
def test_the_value_is_0_to_just_below_a_trillion_with_2_decimals(actors, rep, value):
    assert refused(actors, rep=rep, value=value).field == "value"


def test_the_largest_value_is_accepted(actors, rep):
    assert set_a(actors, rep=rep, value="999999999999.99").value == Decimal("999999999999.99")


@pytest.mark.parametrize("count", [-1, 100_001, "ten", 2.5, True])
def test_the_count_is_a_whole_number_up_to_100000(actors, rep, count):
    assert refused(actors, rep=rep, count=count).field == "count"


def test_value_or_count_is_required(actors, rep):
    assert refused(actors, rep=rep, value=None, count=None).code == "required"


def test_a_zero_target_is_allowed(actors, rep):
    assert set_a(actors, rep=rep, value="0", count=0).count == 0


@pytest.mark.parametrize("year", [2024, 2029])
def test_the_year_is_last_year_to_two_years_ahead(actors, rep, year):
    assert refused(actors, rep=rep, year=year).field == "quarter"


@pytest.mark.parametrize("year", [2025, 2028])
def test_the_edge_years_are_accepted(actors, rep, year):
    assert set_a(actors, rep=rep, year=year).year == year


@pytest.mark.parametrize("quarter", [0, 5])
def test_the_quarter_is_1_to_4(actors, rep, quarter):
    assert refused(actors, rep=rep, quarter=quarter).field == "quarter"


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_only_admins_and_managers_set_targets(actors, rep, role):
    with pytest.raises(RuleViolation) as error:
        set_a(actors, make_actor(actors.tenant_a, role), rep=rep)
    assert error.value.field == "role"


def test_a_manager_sets_targets(actors, rep):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    assert set_a(actors, manager, rep=rep).pk


def test_delete_removes_the_target_and_is_audited(actors, rep):
    target = set_a(actors, rep=rep)
    with tenant_context(actors.tenant_a):
        delete_target(target=target, by=actors.owner.principal)
        assert not Target.objects.exists()
        assert AuditEvent.objects.filter(action="target.deleted").count() == 1


def test_a_sheet_with_one_bad_row_saves_nothing_and_names_the_row(actors, rep, team):
    changes = [
        TargetChange(key="rep", rep=rep, value="100", count="1"),
        TargetChange(key="team", team=team, value="-5", count=""),
    ]
    with tenant_context(actors.tenant_a), pytest.raises(TargetsRefused) as error:
        save_targets(quarter=Quarter(2026, 4), changes=changes, by=actors.owner.principal)
    assert list(error.value.errors) == ["team"]
    assert stored(actors) == 0


def test_a_sheet_row_emptied_removes_its_target(actors, rep):
    target = set_a(actors, rep=rep)
    change = TargetChange(key="rep", rep=rep, value="", count="", existing=target)
    with tenant_context(actors.tenant_a):
        save_targets(quarter=Quarter(2026, 4), changes=[change], by=actors.owner.principal)
    assert stored(actors) == 0


@pytest.mark.parametrize("text", ["2026-Q5", "2026Q4", "26-Q1", "", "2026-Q0"])
def test_a_malformed_quarter_is_refused_on_quarter(text):
    with pytest.raises(RuleViolation) as error:
        parse_quarter(text)
    assert error.value.field == "quarter"


def test_the_current_quarter_is_read_in_the_tenants_zone():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # 31 Dec 23:30 UTC is already 1 January in Berlin.
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert current_quarter(ZoneInfo("Europe/Berlin"), moment) == Quarter(2027, 1)
    assert current_quarter(ZoneInfo("America/New_York"), moment) == Quarter(2026, 4)


def test_the_sheet_lists_selling_reps_active_partners_and_teams_by_name(actors, rep, team):
    PartnerFactory(tenant=actors.tenant_a, name="Active Dealer")
    PartnerFactory(tenant=actors.tenant_a, name="Gone Dealer", status="suspended")
    PartnerFactory(tenant=actors.tenant_b, name="Other Tenant Dealer")
    set_a(actors, team=team, count=3)
    with tenant_context(actors.tenant_a):
        sheet = target_sheet(Quarter(2026, 4))
    assert "Riley Rep" in [row.name for row in sheet.reps]
    assert actors.teammate.user.display_name not in [row.name for row in sheet.reps]
    assert [row.name for row in sheet.partners] == ["Active Dealer"]
    assert [(row.name, row.count) for row in sheet.teams] == [("North", 3)]


def test_the_sheet_takes_the_same_queries_for_many_owners(actors, django_assert_max_num_queries):
    for _n in range(15):
        make_actor(actors.tenant_a, Role.REP)
        PartnerFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a), django_assert_max_num_queries(4):
        sheet = target_sheet(Quarter(2026, 4))
    assert len(sheet.reps) >= 15 and len(sheet.partners) == 15


def test_the_sheets_selling_roles_are_the_ones_check_rep_accepts():
    from leads.selectors.targets import SELLING_ROLES
    from leads.services.booking import REP_ROLES

    assert set(SELLING_ROLES) == set(REP_ROLES)
