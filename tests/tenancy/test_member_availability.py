"""Members' leave, capacity and personal time zone: the service's rules, who may set what,
``/api/v1/members/`` (output and PATCH), the member page's form and the list's badges."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import Client

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Membership, Role
from tests.conftest import make_actor
from tests.factories import MembershipFactory, PartnerFactory


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Robin Rep")


@pytest.fixture
def partner_user(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    return make_actor(actors.tenant_a, Role.REP, partner=partner)


def today(tenant) -> date:
    return services.tenant_today(tenant)


def reloaded(membership: Membership) -> Membership:
    with tenant_context(membership.tenant_id):
        return Membership.objects.select_related("user").get(pk=membership.pk)


def set_availability(member: Membership, by, **changes) -> Membership:
    values = {
        "leave_from": member.leave_from,
        "leave_until": member.leave_until,
        "capacity": member.capacity,
        "timezone": member.user.timezone,
        **changes,
    }
    with tenant_context(member.tenant_id):
        return services.set_member_availability(membership=member, by=by, **values)


def refused(member: Membership, by, **changes) -> RuleViolation:
    before = reloaded(member)
    with pytest.raises(RuleViolation) as error:
        set_availability(member, by, **changes)
    after = reloaded(member)
    assert (after.leave_from, after.leave_until, after.capacity, after.user.timezone) == (
        before.leave_from,
        before.leave_until,
        before.capacity,
        before.user.timezone,
    )
    return error.value


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


# --- The service's rules ------------------------------------------------------------------


def test_a_manager_sets_a_reps_leave_capacity_and_zone(actors, manager, rep):
    start = today(actors.tenant_a)
    set_availability(
        rep.membership,
        manager.principal,
        leave_from=start,
        leave_until=start + timedelta(days=4),
        capacity=30,
        timezone="Europe/Berlin",
    )
    stored = reloaded(rep.membership)
    assert (stored.leave_from, stored.leave_until, stored.capacity) == (
        start,
        start + timedelta(days=4),
        30,
    )
    assert stored.user.timezone == "Europe/Berlin"


def test_an_open_ended_leave_is_allowed(actors, manager, rep):
    set_availability(rep.membership, manager.principal, leave_from=today(actors.tenant_a))
    stored = reloaded(rep.membership)
    assert stored.leave_until is None and stored.on_leave(today(actors.tenant_a) + timedelta(99))


def test_leave_until_without_leave_from_is_refused_on_leave_from(actors, manager, rep):
    error = refused(rep.membership, manager.principal, leave_until=today(actors.tenant_a))
    assert (error.field, error.code) == ("leave_from", "required")


def test_leave_until_before_leave_from_is_refused_on_leave_until(actors, manager, rep):
    start = today(actors.tenant_a)
    error = refused(
        rep.membership, manager.principal, leave_from=start, leave_until=start - timedelta(1)
    )
    assert (error.field, error.code) == ("leave_until", "before_start")


def test_a_leave_more_than_a_year_back_is_refused(actors, manager, rep):
    error = refused(
        rep.membership, manager.principal, leave_from=today(actors.tenant_a) - timedelta(367)
    )
    assert (error.field, error.code) == ("leave_from", "out_of_range")


def test_a_leave_more_than_two_years_ahead_is_refused(actors, manager, rep):
    start = today(actors.tenant_a)
    error = refused(
        rep.membership,
        manager.principal,
        leave_from=start,
        leave_until=start + timedelta(days=2 * 366 + 1),
    )
    assert (error.field, error.code) == ("leave_until", "out_of_range")


def test_a_leave_a_year_back_and_two_years_ahead_is_accepted(actors, manager, rep):
    start = today(actors.tenant_a)
    set_availability(
        rep.membership,
        manager.principal,
        leave_from=start.replace(year=start.year - 1),
        leave_until=start.replace(year=start.year + 2),
    )
    assert reloaded(rep.membership).leave_until == start.replace(year=start.year + 2)


@pytest.mark.parametrize("capacity", [-1, 1001, True, "5"])
def test_capacity_outside_0_to_1000_is_refused(actors, manager, rep, capacity):
    error = refused(rep.membership, manager.principal, capacity=capacity)
    assert error.field == "capacity"


@pytest.mark.parametrize("capacity", [0, 1000, None])
def test_capacity_0_to_1000_or_none_is_accepted(actors, manager, rep, capacity):
    set_availability(rep.membership, manager.principal, capacity=5)
    set_availability(rep.membership, manager.principal, capacity=capacity)
    assert reloaded(rep.membership).capacity == capacity


def test_an_unknown_time_zone_is_refused(actors, manager, rep):
    error = refused(rep.membership, manager.principal, timezone="Mars/Olympus")
    assert (error.field, error.code) == ("timezone", "invalid")


def test_a_blank_time_zone_means_the_tenants(actors, manager, rep):
    set_availability(rep.membership, manager.principal, timezone="Asia/Tokyo")
    set_availability(rep.membership, manager.principal, timezone="")
    assert reloaded(rep.membership).user.timezone == ""


def test_a_deactivated_member_is_refused_with_a_clear_message(actors, manager, rep):
    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=rep.membership, by=actors.owner.principal)
    error = refused(rep.membership, manager.principal, capacity=10)
    assert error.code == "deactivated"
    assert "Robin Rep is deactivated" in error.message


def test_a_change_is_audited_with_before_and_after(actors, manager, rep):
    start = today(actors.tenant_a)
    set_availability(rep.membership, manager.principal, leave_from=start, capacity=12)
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="membership.availability_changed")
    assert event.actor == manager.user
    assert event.before == {
        "leave_from": None,
        "leave_until": None,
        "capacity": None,
        "timezone": "",
    }
    assert event.after["leave_from"] == start.isoformat() and event.after["capacity"] == 12


def test_setting_the_same_values_writes_no_audit_row(actors, manager, rep):
    set_availability(rep.membership, manager.principal, capacity=12)
    set_availability(rep.membership, manager.principal, capacity=12)
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="membership.availability_changed").count() == 1


# --- Who may set what ---------------------------------------------------------------------


def test_an_admin_sets_another_members_capacity(actors, rep):
    set_availability(rep.membership, actors.owner.principal, capacity=7)
    assert reloaded(rep.membership).capacity == 7


def test_a_rep_sets_their_own_leave_and_zone(actors, rep):
    set_availability(
        rep.membership, rep.principal, leave_from=today(actors.tenant_a), timezone="Asia/Tokyo"
    )
    stored = reloaded(rep.membership)
    assert stored.leave_from == today(actors.tenant_a) and stored.user.timezone == "Asia/Tokyo"


def test_a_rep_may_not_set_their_own_capacity(actors, rep):
    with pytest.raises(PermissionDenied):
        set_availability(rep.membership, rep.principal, capacity=50)
    assert reloaded(rep.membership).capacity is None


def test_a_rep_may_not_set_another_members_leave(actors, rep):
    other = make_actor(actors.tenant_a, Role.REP)
    with pytest.raises(PermissionDenied):
        set_availability(other.membership, rep.principal, leave_from=today(actors.tenant_a))
    assert reloaded(other.membership).leave_from is None


def test_a_partners_user_may_not_set_even_their_own_leave(actors, partner_user):
    acting = replace(partner_user.principal, partner=partner_user.membership.partner)
    with pytest.raises(PermissionDenied):
        set_availability(partner_user.membership, acting, leave_from=today(actors.tenant_a))


# --- The API ------------------------------------------------------------------------------


def member_url(member: Membership) -> str:
    return f"/api/v1/members/{member.pk}/"


def test_the_list_shows_leave_on_leave_capacity_and_zone(actors, manager, rep):
    start = today(actors.tenant_a)
    set_availability(
        rep.membership,
        manager.principal,
        leave_from=start,
        leave_until=start + timedelta(2),
        capacity=9,
        timezone="Europe/Paris",
    )
    rows = manager.api().get("/api/v1/members/").json()["results"]
    row = next(r for r in rows if r["id"] == rep.membership.pk)
    assert row["leave_from"] == start.isoformat()
    assert row["leave_until"] == (start + timedelta(2)).isoformat()
    assert (row["on_leave"], row["capacity"], row["timezone"]) == (True, 9, "Europe/Paris")
    other = next(r for r in rows if r["id"] == manager.membership.pk)
    assert (other["on_leave"], other["capacity"], other["leave_from"]) == (False, None, None)


def test_on_leave_is_todays_in_the_tenants_zone(actors, manager, rep):
    # 23:30 UTC on 7 Dec is already 8 Dec in Tokyo: a leave from 8 Dec has begun there.
    with tenant_context(actors.tenant_a):
        actors.tenant_a.timezone = "Asia/Tokyo"
        actors.tenant_a.save(update_fields=["timezone"])
    with time_machine.travel("2026-12-07T23:30:00Z", tick=False):
        set_availability(rep.membership, manager.principal, leave_from=date(2026, 12, 8))
        row = manager.api().get(member_url(rep.membership)).json()
    assert row["on_leave"] is True


def test_a_manager_patches_a_reps_leave_and_capacity(actors, manager, rep):
    start = today(actors.tenant_a)
    response = manager.api().patch(
        member_url(rep.membership),
        {"leave_from": start.isoformat(), "capacity": 20},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["on_leave"] is True and response.json()["capacity"] == 20
    stored = reloaded(rep.membership)
    assert (stored.leave_from, stored.capacity) == (start, 20)


def test_patch_changes_only_the_fields_sent(actors, manager, rep):
    set_availability(rep.membership, manager.principal, capacity=20, timezone="Asia/Tokyo")
    response = manager.api().patch(
        member_url(rep.membership), {"leave_from": today(actors.tenant_a).isoformat()}, "json"
    )
    assert response.status_code == 200
    stored = reloaded(rep.membership)
    assert (stored.capacity, stored.user.timezone) == (20, "Asia/Tokyo")


def test_patch_with_a_refused_value_is_400_naming_the_field(actors, manager, rep):
    start = today(actors.tenant_a)
    response = manager.api().patch(
        member_url(rep.membership),
        {"leave_from": start.isoformat(), "leave_until": (start - timedelta(1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert "leave_until" in response.json()["errors"]
    assert reloaded(rep.membership).leave_from is None


def test_patch_with_a_wrong_json_type_is_400(actors, manager, rep):
    response = manager.api().patch(member_url(rep.membership), {"capacity": "ten"}, "json")
    assert response.status_code == 400 and "capacity" in response.json()["errors"]


def test_patch_with_an_unknown_field_is_400(actors, manager, rep):
    response = manager.api().patch(member_url(rep.membership), {"role": "admin"}, "json")
    assert response.status_code == 400 and "role" in response.json()["errors"]
    assert reloaded(rep.membership).role == Role.REP


def test_an_admin_patches_a_deactivated_member_and_gets_400(actors, rep):
    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=rep.membership, by=actors.owner.principal)
    response = actors.owner.api().patch(member_url(rep.membership), {"capacity": 3}, "json")
    assert response.status_code == 400 and "deactivated" in str(response.json())


def test_a_rep_patches_their_own_leave(actors, rep):
    start = today(actors.tenant_a).isoformat()
    response = rep.api().patch(member_url(rep.membership), {"leave_from": start}, "json")
    assert response.status_code == 200
    assert reloaded(rep.membership).leave_from.isoformat() == start


def test_a_rep_patching_their_own_capacity_gets_403(actors, rep):
    response = rep.api().patch(member_url(rep.membership), {"capacity": 99}, "json")
    assert response.status_code == 403
    assert reloaded(rep.membership).capacity is None


def test_a_rep_patching_another_member_gets_403(actors, rep):
    other = make_actor(actors.tenant_a, Role.REP)
    start = today(actors.tenant_a).isoformat()
    response = rep.api().patch(member_url(other.membership), {"leave_from": start}, "json")
    assert response.status_code == 403
    assert reloaded(other.membership).leave_from is None


def test_a_partners_user_patching_gets_403(actors, partner_user):
    start = today(actors.tenant_a).isoformat()
    response = partner_user.api().patch(
        member_url(partner_user.membership), {"leave_from": start}, "json"
    )
    assert response.status_code == 403


def test_another_tenants_member_is_404_on_patch(actors, manager):
    outsider = actors.outsider.membership
    response = manager.api().patch(member_url(outsider), {"capacity": 1}, "json")
    assert response.status_code == 404
    assert reloaded(outsider).capacity is None


def test_the_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries):
    api = actors.owner.api()
    api.get("/api/v1/members/")
    with django_assert_num_queries(4):
        assert api.get("/api/v1/members/").status_code == 200
    for _ in range(5):
        member = MembershipFactory(tenant=actors.tenant_a, role=Role.REP, capacity=5)
        with tenant_context(actors.tenant_a):
            Membership.objects.filter(pk=member.pk).update(leave_from=today(actors.tenant_a))
    with django_assert_num_queries(4):
        assert len(api.get("/api/v1/members/").json()["results"]) == 7


# --- The pages ----------------------------------------------------------------------------


def availability_form(**values) -> dict:
    data = {
        "form": "availability",
        "availability-leave_from": "",
        "availability-leave_until": "",
        "availability-capacity": "",
        "availability-timezone": "",
    }
    data.update({f"availability-{name}": value for name, value in values.items()})
    return data


def test_the_member_page_shows_the_availability_form(actors, rep):
    response = client_of(actors.owner).get(f"/members/{rep.membership.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="availability-heading"' in page
    assert 'type="date"' in page and 'name="availability-capacity"' in page


@time_machine.travel("2026-06-10T12:00:00Z", tick=False)  # days shown without a year
def test_saving_the_form_sets_the_leave_and_shows_the_badge_on_the_list(actors, rep):
    client = client_of(actors.owner)
    start = today(actors.tenant_a)
    end = start + timedelta(days=3)
    response = client.post(
        f"/members/{rep.membership.pk}/",
        availability_form(leave_from=start.isoformat(), leave_until=end.isoformat(), capacity="15"),
    )
    assert response.status_code == 302
    stored = reloaded(rep.membership)
    assert (stored.leave_from, stored.leave_until, stored.capacity) == (start, end, 15)
    listing = client.get("/members/").content.decode()
    assert f"On leave until {end.day}\u00a0{end.strftime('%b')}" in listing
    assert "15 open leads" in listing


def test_a_refused_value_is_shown_on_its_field(actors, rep):
    start = today(actors.tenant_a)
    response = client_of(actors.owner).post(
        f"/members/{rep.membership.pk}/",
        availability_form(
            leave_from=start.isoformat(), leave_until=(start - timedelta(2)).isoformat()
        ),
    )
    assert response.status_code == 400
    assert "cannot be before its first day" in response.content.decode()
    assert reloaded(rep.membership).leave_from is None


def test_the_role_form_still_changes_the_role(actors, rep):
    response = client_of(actors.owner).post(f"/members/{rep.membership.pk}/", {"role": "manager"})
    assert response.status_code == 302
    assert reloaded(rep.membership).role == Role.MANAGER


def test_another_tenants_member_page_is_404(actors):
    client = client_of(actors.owner)
    outsider = actors.outsider.membership.pk
    assert client.get(f"/members/{outsider}/").status_code == 404
    assert client.post(f"/members/{outsider}/", availability_form(capacity="3")).status_code == 404
    assert reloaded(actors.outsider.membership).capacity is None


def test_a_rep_cannot_post_the_form_for_another_member(actors, rep):
    other = make_actor(actors.tenant_a, Role.REP)
    response = client_of(rep).post(f"/members/{other.membership.pk}/", availability_form())
    assert response.status_code == 403


@time_machine.travel("2026-06-10T12:00:00Z", tick=False)
def test_the_list_shows_back_after_a_recent_leave(actors, manager, rep):
    start = today(actors.tenant_a) - timedelta(days=5)
    set_availability(
        rep.membership, manager.principal, leave_from=start, leave_until=start + timedelta(2)
    )
    back = start + timedelta(3)
    listing = client_of(actors.owner).get("/members/").content.decode()
    assert f"Back {back.day}\u00a0{back.strftime('%b')}" in listing


def test_the_list_page_query_count_does_not_grow_with_rows(actors, django_assert_max_num_queries):
    client = client_of(actors.owner)
    client.get("/members/")
    with django_assert_max_num_queries(20) as few:
        client.get("/members/")
    for _ in range(6):
        MembershipFactory(tenant=actors.tenant_a, role=Role.REP, capacity=4)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/members/").status_code == 200
