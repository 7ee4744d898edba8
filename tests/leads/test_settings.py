"""The tenant's lead settings: the service's rules, the page ``/settings/leads/`` and the API."""

import pytest
from django.test import Client

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leads.models import BUYER_DECLINED, DEFAULT_LOST_REASONS, LeadSettings
from leads.selectors.settings import lead_settings
from leads.services.settings import update_lead_settings
from tests.conftest import make_actor
from tests.factories import PartnerFactory

PAGE = "/settings/leads/"
API = "/api/v1/lead-settings/"


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


def update(actors, actor=None, **fields) -> LeadSettings:
    with tenant_context(actors.tenant_a):
        return update_lead_settings(by=(actor or actors.owner).principal, **fields)


def settings_of(tenant) -> LeadSettings:
    with tenant_context(tenant):
        return lead_settings()


def refused_field(actors, **fields) -> str:
    with pytest.raises(RuleViolation) as refused:
        update(actors, **fields)
    assert not LeadSettings.dangerously_all_tenants.exists()  # nothing saved
    return refused.value.field


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def form(**changes) -> dict:
    data = {
        "acceptance_business_days": "2",
        "touch_minimum": "8",
        "touch_cliff": "4",
        "lost_reasons": "\n".join(DEFAULT_LOST_REASONS),
        "postponed": "owner",
        "reminder_hours_before": "24",
        "recall_after_days": "14",
        "cost_per_lead": "200.00",
        "timezone": "UTC",
    }
    data.update(changes)
    return data


# --- the service ------------------------------------------------------------------------


def test_the_first_change_creates_the_row_with_the_other_fields_at_their_defaults(actors):
    row = update(actors, acceptance_business_days=5)
    stored = settings_of(actors.tenant_a)
    assert stored.pk == row.pk
    assert stored.acceptance_business_days == 5
    assert stored.touch_minimum == 8 and stored.lost_reasons == DEFAULT_LOST_REASONS


def test_a_second_change_updates_the_same_row(actors):
    update(actors, touch_minimum=10)
    update(actors, reminder_hours_before=48)
    with tenant_context(actors.tenant_a):
        rows = list(LeadSettings.objects.all())
    assert len(rows) == 1
    assert (rows[0].touch_minimum, rows[0].reminder_hours_before) == (10, 48)


@pytest.mark.parametrize("value", [0, 11, -1, True, "3"])
def test_the_acceptance_window_is_1_to_10_business_days(actors, value):
    assert refused_field(actors, acceptance_business_days=value) == "acceptance_business_days"


@pytest.mark.parametrize("value", [0, 31])
def test_the_touch_minimum_is_1_to_30(actors, value):
    assert refused_field(actors, touch_minimum=value) == "touch_minimum"


@pytest.mark.parametrize("value", [0, 9])
def test_the_cliff_is_1_to_the_minimum(actors, value):
    assert refused_field(actors, touch_cliff=value) == "touch_cliff"


def test_lowering_the_minimum_below_the_stored_cliff_is_refused_on_the_cliff(actors):
    assert refused_field(actors, touch_minimum=3) == "touch_cliff"


def test_the_minimum_and_cliff_change_together(actors):
    row = update(actors, touch_minimum=3, touch_cliff=2)
    assert (row.touch_minimum, row.touch_cliff) == (3, 2)


@pytest.mark.parametrize("value", [0, 169])
def test_the_reminder_is_1_to_168_hours_before(actors, value):
    assert refused_field(actors, reminder_hours_before=value) == "reminder_hours_before"


def test_postponed_to_nurture_must_be_true_or_false(actors):
    assert refused_field(actors, postponed_to_nurture="yes") == "postponed_to_nurture"


@pytest.mark.parametrize(
    "reasons",
    [
        [],
        [BUYER_DECLINED, *[f"reason {n}" for n in range(30)]],
        [BUYER_DECLINED, "x" * 101],
        [BUYER_DECLINED, "No budget", "no  budget"],
        ["no budget", "not a fit"],
        [BUYER_DECLINED, "   "],
        "buyer declined",
    ],
    ids=["none", "31", "too-long", "duplicate-ignoring-case", "no-buyer-declined", "blank", "text"],
)
def test_lost_reasons_are_refused_when_they_break_a_rule(actors, reasons):
    assert refused_field(actors, lost_reasons=reasons) == "lost_reasons"


def test_lost_reasons_keep_buyer_declined_in_the_spelling_closing_compares(actors):
    row = update(actors, lost_reasons=["Buyer Declined", " went  quiet "])
    assert row.lost_reasons == [BUYER_DECLINED, "went quiet"]


def test_thirty_reasons_of_100_characters_are_accepted(actors):
    reasons = [BUYER_DECLINED, *[f"{n:02d}" + "x" * 98 for n in range(29)]]
    assert update(actors, lost_reasons=reasons).lost_reasons == reasons


def test_an_unknown_field_is_refused(actors):
    assert refused_field(actors, tenant_id=2) == "tenant_id"


def test_one_bad_field_saves_none_of_the_good_ones(actors):
    update(actors, acceptance_business_days=3)
    with pytest.raises(RuleViolation):
        update(actors, acceptance_business_days=4, reminder_hours_before=0)
    assert settings_of(actors.tenant_a).acceptance_business_days == 3


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_only_admins_and_managers_may_change_them(actors, role):
    with pytest.raises(RuleViolation) as refused:
        update(actors, make_actor(actors.tenant_a, role), touch_minimum=9)
    assert refused.value.field == "role"


def test_a_change_is_audited_with_before_and_after(actors, manager):
    update(actors, manager, acceptance_business_days=4, postponed_to_nurture=True)
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="lead_settings.changed")
    assert event.actor == manager.user
    assert event.before["acceptance_business_days"] == 2
    assert event.before["postponed_to_nurture"] is False
    assert event.after["acceptance_business_days"] == 4
    assert event.after["postponed_to_nurture"] is True


def test_a_tenants_settings_never_affect_another_tenants(actors):
    update(actors, acceptance_business_days=7, lost_reasons=[BUYER_DECLINED])
    other = settings_of(actors.tenant_b)
    assert other.pk is None
    assert other.acceptance_business_days == 2 and other.lost_reasons == DEFAULT_LOST_REASONS


# --- the page ---------------------------------------------------------------------------


def test_the_page_shows_the_current_settings(actors, manager):
    update(actors, reminder_hours_before=36)
    response = client_of(manager).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="36"' in html and "chose a competitor" in html


def test_an_admin_saves_the_form_and_the_row_is_created(actors):
    response = client_of(actors.owner).post(
        PAGE,
        form(
            acceptance_business_days="3",
            lost_reasons="buyer declined\n\nwent quiet\n",
            postponed="nurture",
        ),
    )
    assert response.status_code == 302
    stored = settings_of(actors.tenant_a)
    assert stored.acceptance_business_days == 3
    assert stored.lost_reasons == [BUYER_DECLINED, "went quiet"]
    assert stored.postponed_to_nurture is True


def test_a_refused_value_is_shown_on_its_field_and_nothing_is_saved(actors, manager):
    response = client_of(manager).post(
        PAGE, form(acceptance_business_days="5", lost_reasons="no budget")
    )
    assert response.status_code == 400
    assert "must include" in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert not LeadSettings.dangerously_all_tenants.exists()


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_get_403_on_the_page(actors, role):
    assert client_of(make_actor(actors.tenant_a, role)).get(PAGE).status_code == 403


def test_a_partners_user_gets_403_on_the_page(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    someone = make_actor(actors.tenant_a, Role.REP, partner=partner)
    assert client_of(someone).get(PAGE).status_code == 403
    assert client_of(someone).post(PAGE, form()).status_code == 403


def test_the_page_shows_only_the_viewers_tenants_settings(actors):
    update(actors, lost_reasons=[BUYER_DECLINED, "tenant a secret reason"])
    html = client_of(actors.outsider).get(PAGE).content.decode()
    assert "tenant a secret reason" not in html and "chose a competitor" in html


def test_managers_see_the_nav_link_and_reps_do_not(actors, manager):
    assert PAGE in client_of(manager).get("/leads/team/").content.decode()
    rep = make_actor(actors.tenant_a, Role.REP)
    assert PAGE not in client_of(rep).get("/leads/week/").content.decode()


# --- the API ----------------------------------------------------------------------------


def test_get_answers_the_defaults_before_any_change(actors, manager):
    response = manager.api().get(API)
    assert response.status_code == 200
    assert response.json()["touch_minimum"] == 8
    assert response.json()["lost_reasons"] == DEFAULT_LOST_REASONS


def test_patch_changes_only_the_fields_sent(actors, manager):
    update(actors, reminder_hours_before=12)
    response = manager.api().patch(API, {"touch_minimum": 12}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["touch_minimum"] == 12
    assert response.json()["reminder_hours_before"] == 12
    assert settings_of(actors.tenant_a).touch_minimum == 12


def test_patch_with_a_bad_value_is_400_naming_the_field(actors):
    response = actors.owner.api().patch(API, {"touch_cliff": 40}, format="json")
    assert response.status_code == 400
    assert "touch_cliff" in response.json()["errors"]
    assert not LeadSettings.dangerously_all_tenants.exists()


def test_patch_with_an_unknown_field_is_400(actors):
    response = actors.owner.api().patch(API, {"tenant": 2}, format="json")
    assert response.status_code == 400
    assert "tenant" in response.json()["errors"]


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_get_403_from_the_api(actors, role):
    client = make_actor(actors.tenant_a, role).api()
    assert client.get(API).status_code == 403
    assert client.patch(API, {"touch_minimum": 9}, format="json").status_code == 403


def test_a_partners_user_gets_403_from_the_api(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    client = make_actor(actors.tenant_a, Role.REP, partner=partner).api()
    assert client.get(API).status_code == 403


def test_another_tenants_admin_reads_and_changes_only_their_own(actors):
    update(actors, acceptance_business_days=9)
    outsider = actors.outsider.api()
    assert outsider.get(API).json()["acceptance_business_days"] == 2
    outsider.patch(API, {"acceptance_business_days": 1}, format="json")
    assert settings_of(actors.tenant_a).acceptance_business_days == 9
    assert settings_of(actors.tenant_b).acceptance_business_days == 1


def test_get_reads_in_one_query(actors, manager, django_assert_max_num_queries):
    client = manager.api()
    client.get(API)
    with django_assert_max_num_queries(6):
        assert client.get(API).status_code == 200


def test_the_schema_documents_the_endpoint_with_an_example(actors):
    schema = actors.owner.api().get("/api/v1/schema/", {"format": "json"}).json()
    operations = schema["paths"]["/api/v1/lead-settings/"]
    assert set(operations) >= {"get", "patch"}
    assert "examples" in operations["patch"]["requestBody"]["content"]["application/json"]
