"""The targets page ``/settings/targets/``: the quarter picker, the one form, per-row errors."""

from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Target, Team
from leads.services.targets import set_target
from tests.conftest import make_actor
from tests.factories import PartnerFactory

PAGE = "/settings/targets/"


@pytest.fixture(autouse=True)
def december_2026():
    with time_machine.travel("2026-12-07 10:00:00+00:00", tick=False):
        yield


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep").user


@pytest.fixture
def team(actors):
    with tenant_context(actors.tenant_a):
        return Team.objects.create(tenant=actors.tenant_a, name="North")


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def form(fields: dict, was: dict | None = None) -> dict:
    """``fields`` as the page posts them: each row also sends what it showed (``was-<key>``).

    A row shows ``value|count``; rows not in ``was`` showed nothing (``|``).
    """
    keys = {name.split("-", 1)[1] for name in fields}
    data = {f"was-{key}": (was or {}).get(key, "|") for key in keys}
    return {**data, **fields}


def targets(actors) -> dict:
    with tenant_context(actors.tenant_a):
        return {
            (t.rep_id, t.team_id, t.partner_id): (t.year, t.quarter, t.value, t.count)
            for t in Target.objects.all()
        }


def test_the_page_opens_on_the_current_quarter_listing_owners_by_name(actors, rep, team):
    PartnerFactory(tenant=actors.tenant_a, name="Dealer One")
    body = client_of(actors.owner).get(PAGE).content.decode()
    assert "Targets for 2026-Q4" in body
    assert "Riley Rep" in body and "Dealer One" in body and "North" in body
    assert "2026-Q3" in body and "2027-Q1" in body  # previous and next


def test_a_quarter_is_picked_by_its_parameter(actors, rep):
    body = client_of(actors.owner).get(PAGE, {"quarter": "2027-Q2"}).content.decode()
    assert "Targets for 2027-Q2" in body


def test_a_malformed_quarter_says_so_and_shows_the_current_one(actors, rep):
    response = client_of(actors.owner).get(PAGE, {"quarter": "2026-Q5"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Give a quarter as YYYY-Qn" in body and "Targets for 2026-Q4" in body


def test_saving_stores_every_changed_row_at_once(actors, rep, team):
    response = client_of(actors.owner).post(
        f"{PAGE}?quarter=2027-Q1",
        form(
            {
                f"value-rep-{rep.pk}": "12,500.50",
                f"count-rep-{rep.pk}": "5",
                f"count-team-{team.pk}": "20",
            }
        ),
    )
    assert response.status_code == 302
    assert targets(actors) == {
        (rep.pk, None, None): (2027, 1, Decimal("12500.50"), 5),
        (None, team.pk, None): (2027, 1, None, 20),
    }


def test_a_bad_row_shows_its_error_on_the_row_and_saves_nothing(actors, rep, team):
    response = client_of(actors.owner).post(
        PAGE, form({f"count-rep-{rep.pk}": "5", f"value-team-{team.pk}": "-3"})
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was saved" in body
    assert 'id="error-team-' in body and "from 0 to" in body
    assert 'value="-3"' in body  # what was typed stays
    assert targets(actors) == {}


def test_emptying_a_row_removes_its_target(actors, rep):
    with tenant_context(actors.tenant_a):
        set_target(year=2026, quarter=4, rep=rep, value="1", count=1, by=actors.owner.principal)
    emptied = {f"value-rep-{rep.pk}": "", f"count-rep-{rep.pk}": ""}
    client_of(actors.owner).post(PAGE, form(emptied, was={f"rep-{rep.pk}": "1.00|1"}))
    assert targets(actors) == {}


def test_unchanged_rows_are_not_written_again(actors, rep):
    with tenant_context(actors.tenant_a):
        target = set_target(
            year=2026, quarter=4, rep=rep, value="100", count=1, by=actors.owner.principal
        )
    client_of(actors.owner).post(
        PAGE,
        form(
            {f"value-rep-{rep.pk}": "100.00", f"count-rep-{rep.pk}": "1"},
            was={f"rep-{rep.pk}": "100.00|1"},
        ),
    )
    with tenant_context(actors.tenant_a):
        assert Target.objects.get().updated_at == target.updated_at


def test_a_target_set_elsewhere_meanwhile_is_kept_when_its_row_was_not_changed(actors, rep):
    # The form was opened with no target for the rep; the API set one before saving.
    with tenant_context(actors.tenant_a):
        set_target(year=2026, quarter=4, rep=rep, value="9", count=9, by=actors.owner.principal)
    other = make_actor(actors.tenant_a, Role.REP).user
    fields = {
        f"value-rep-{rep.pk}": "",
        f"count-rep-{rep.pk}": "",
        f"count-rep-{other.pk}": "4",
    }
    client_of(actors.owner).post(PAGE, form(fields))
    assert targets(actors)[(rep.pk, None, None)] == (2026, 4, Decimal("9.00"), 9)
    assert targets(actors)[(other.pk, None, None)] == (2026, 4, None, 4)


def test_a_row_that_was_not_on_the_form_is_left_alone(actors, rep):
    with tenant_context(actors.tenant_a):
        set_target(year=2026, quarter=4, rep=rep, value="9", count=9, by=actors.owner.principal)
    client_of(actors.owner).post(PAGE, {f"value-rep-{rep.pk}": "", f"count-rep-{rep.pk}": ""})
    assert targets(actors) == {(rep.pk, None, None): (2026, 4, Decimal("9.00"), 9)}


def test_the_value_is_shown_in_the_tenants_currency(actors, rep):
    actors.tenant_a.currency = "EUR"
    actors.tenant_a.save()
    body = client_of(actors.owner).get(PAGE).content.decode()
    assert "Value (EUR)" in body


def test_groups_without_anyone_say_so(actors, rep):
    body = client_of(actors.owner).get(PAGE).content.decode()
    assert "No active partners" in body and "No teams yet" in body


def test_another_tenants_owner_in_the_form_is_ignored(actors, rep):
    partner = PartnerFactory(tenant=actors.tenant_b)
    response = client_of(actors.owner).post(PAGE, form({f"count-partner-{partner.pk}": "5"}))
    assert response.status_code == 302
    with tenant_context(actors.tenant_b):
        assert not Target.objects.exists()


def test_another_tenants_admin_sees_none_of_this_tenants_targets(actors, rep):
    with tenant_context(actors.tenant_a):
        set_target(year=2026, quarter=4, rep=rep, value="777", count=7, by=actors.owner.principal)
    body = client_of(actors.outsider).get(PAGE).content.decode()
    assert "Riley Rep" not in body and "777" not in body


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_get_403(actors, role):
    client = client_of(make_actor(actors.tenant_a, role))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {}).status_code == 403


def test_the_page_takes_the_same_queries_for_many_owners(actors, django_assert_max_num_queries):
    client = client_of(actors.owner)
    make_actor(actors.tenant_a, Role.REP)
    with django_assert_max_num_queries(30) as few:
        client.get(PAGE)
    for _n in range(10):
        make_actor(actors.tenant_a, Role.REP)
        PartnerFactory(tenant=actors.tenant_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(PAGE)
