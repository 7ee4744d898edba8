"""Browser pages of marketing through the Django test client: inquiries and the definition."""

import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from inquiries.models import (
    DefinitionSignOff,
    LeadDefinition,
    RescoreJob,
)
from inquiries.services import definitions as definition_services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import captured_inquiry, make_actor
from tests.factories import (
    InquiryFactory,
    LeadDefinitionFactory,
    PartnerFactory,
)


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


@pytest.fixture
def outsider_client(client, actors):
    client.force_login(actors.outsider.user)
    return client


@pytest.fixture
def active(actors):
    return LeadDefinitionFactory(tenant=actors.tenant_a, version=1, name="Agreed in March")


@pytest.fixture
def draft(actors, active):
    with tenant_context(actors.tenant_a):
        return definition_services.create_draft(
            values={"name": "Stricter"}, by=actors.teammate.principal
        )


@pytest.fixture
def inquiry(actors, active, system_a):
    """A captured inquiry of tenant A: scored by the active version, with a custom field."""
    return captured_inquiry(actors.tenant_a, system_a)


@pytest.fixture
def rep_a(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep")


@pytest.fixture
def managers(actors):
    return make_actor(actors.tenant_a, Role.MANAGER), make_actor(actors.tenant_a, Role.MANAGER)


def client_for(client, actor):
    client.force_login(actor.user)
    return client


def local_input(moment: datetime, tz: str) -> str:
    """What a datetime-local input sends for ``moment`` shown in the time zone ``tz``."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def editor_data(definition: LeadDefinition, **changes) -> dict:
    """The editor form as the browser posts it, unchanged unless told."""
    data = {
        "name": definition.name,
        "mql_threshold": definition.mql_threshold,
        "leads_per_rep_per_week": definition.leads_per_rep_per_week,
        "reps": definition.reps,
        "notes": definition.notes,
    }
    data.update(changes)
    return data


def reload(model, tenant, pk):
    with tenant_context(tenant):
        return model.objects.get(pk=pk)


# --- Every page renders; another tenant's rows are 404; other roles 403 ----------------

PAGES = [
    ("/inquiries/", "<h1>Inquiries</h1>"),
    ("/inquiries/{inquiry}/", "Dana Okafor"),
    ("/definitions/", "<h1>Lead definition</h1>"),
    ("/definitions/{draft}/", "Stricter"),
    ("/definitions/{active}/", "Agreed in March"),
    ("/definitions/{draft}/what-if/", "What if v2 were active?"),
    ("/definitions/{draft}/rescore-progress/", 'id="rescore-progress"'),  # a partial
]
ROWS = [
    ("get", "/inquiries/{inquiry}/"),
    ("get", "/definitions/{draft}/"),
    ("post", "/definitions/{draft}/"),
    ("post", "/definitions/{draft}/copy/"),
    ("post", "/definitions/{draft}/sign/"),
    ("post", "/definitions/{draft}/activate/"),
    ("get", "/definitions/{draft}/what-if/"),
    ("get", "/definitions/{draft}/rescore-progress/"),
]
MARKETING_ROUTES = [
    ("get", "/inquiries/"),
    ("get", "/definitions/"),
    ("post", "/definitions/new/"),
    ("post", "/definitions/suggest/"),
    *ROWS,
]


@pytest.fixture
def ids(inquiry, draft, active):
    return {"inquiry": inquiry.pk, "draft": draft.pk, "active": active.pk}


@pytest.mark.parametrize(("path", "text"), PAGES)
def test_each_page_renders_for_a_marketer(marketer_client, ids, path, text):
    response = marketer_client.get(path.format(**ids))
    assert response.status_code == 200
    assert text in response.content.decode()


@pytest.mark.parametrize(("method", "path"), ROWS)
def test_rows_of_another_tenant_are_404(outsider_client, ids, method, path):
    response = getattr(outsider_client, method)(path.format(**ids), {"side": "sales"})
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), MARKETING_ROUTES)
@pytest.mark.parametrize("who", ["rep", "partner"])
def test_reps_and_partner_users_may_not_open_marketing_pages(
    client, actors, ids, method, path, who
):
    if who == "rep":
        actor = make_actor(actors.tenant_a, Role.REP)
    else:
        partner = PartnerFactory(tenant=actors.tenant_a)
        actor = make_actor(actors.tenant_a, Role.REP, partner=partner)
    response = getattr(client_for(client, actor), method)(path.format(**ids))
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, ids):
    response = client.get(f"/inquiries/{ids['inquiry']}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_marketing_roles_see_the_menu_entries_and_reps_do_not(client, actors, rep_a):
    menu = client_for(client, actors.teammate).get("/").content
    assert b'href="/inquiries/"' in menu
    assert b'href="/definitions/"' in menu
    menu = client_for(client, rep_a).get("/").content
    assert b'href="/inquiries/"' not in menu
    assert b'href="/definitions/"' not in menu


# --- Inquiries -----------------------------------------------------------------------


def test_inquiry_list_shows_newest_first_with_score_stage_and_level(
    marketer_client, actors, inquiry
):
    InquiryFactory(
        tenant=actors.tenant_a,
        first_name="Older",
        last_name="Person",
        created_at=timezone.now() - timedelta(days=3),
    )
    content = marketer_client.get("/inquiries/").content.decode()
    assert content.index("Dana Okafor") < content.index("Older Person")
    assert f"<strong>{inquiry.score}</strong>" in content
    assert inquiry.get_stage_display() in content
    assert inquiry.get_behaviour_level_display() in content


def test_inquiry_list_has_an_empty_state_telling_how_to_capture(marketer_client):
    content = marketer_client.get("/inquiries/").content.decode()
    assert "No inquiries yet" in content
    assert "/f/tenant-a/" in content
    assert "POST /api/v1/inquiries/" in content


def test_inquiry_list_shows_only_the_tenants_inquiries(marketer_client, actors, inquiry):
    InquiryFactory(tenant=actors.tenant_b, first_name="Elsewhere", last_name="Buyer")
    content = marketer_client.get("/inquiries/").content
    assert b"Dana Okafor" in content
    assert b"Elsewhere" not in content


def test_inquiry_list_is_paginated_by_fifty(marketer_client, actors):
    for _ in range(51):
        InquiryFactory(tenant=actors.tenant_a)
    first = marketer_client.get("/inquiries/").content.decode()
    assert first.count('data-testid="inbox-row"') == 50
    assert 'data-testid="next-page"' in first  # the inbox continues by cursor (keyset)


def test_inquiry_detail_shows_profile_custom_fields_score_breakdown_and_timeline(
    marketer_client, active, inquiry
):
    content = marketer_client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert "VP Logistics" in content
    assert "Fleet size" in content and "120" in content
    assert inquiry.score_breakdown, "the active version scored the capture"
    for row in inquiry.score_breakdown:
        assert row["rule"] in content
    assert f"v{active.version}" in content
    assert inquiry.get_behaviour_level_display() in content
    assert "Form fill" in content  # the timeline
    assert 'type="datetime-local"' in content
    assert "Book appointment" in content


# --- Lead definitions ----------------------------------------------------------------


def test_definition_list_shows_versions_with_status_and_sign_offs(
    marketer_client, actors, active, draft, managers
):
    with tenant_context(actors.tenant_a):
        definition_services.sign_definition(
            definition=draft, side="sales", by=managers[0].principal
        )
    content = marketer_client.get("/definitions/").content.decode()
    assert "Agreed in March" in content and "Stricter" in content
    assert "Active" in content and "Draft" in content
    assert f"✓ {managers[0].user.email}" in content
    assert "New draft" in content and "Suggest from outcomes" in content


def test_definition_list_has_an_empty_state(marketer_client):
    assert b"No lead definition yet" in marketer_client.get("/definitions/").content


def test_a_qualifier_reads_definitions_but_gets_no_edit_buttons(client, actors, draft):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    client_for(client, qualifier)
    assert b"New draft" not in client.get("/definitions/").content
    editor = client.get(f"/definitions/{draft.pk}/").content
    assert b"Save draft" not in editor
    assert client.post(f"/definitions/{draft.pk}/", editor_data(draft)).status_code == 403


def test_new_draft_starts_from_the_template(marketer_client, actors):
    response = marketer_client.post("/definitions/new/")
    with tenant_context(actors.tenant_a):
        definition = LeadDefinition.objects.get()
    assert response["Location"] == f"/definitions/{definition.pk}/"
    assert definition.status == "draft"
    assert definition.fit_rules


def test_suggest_without_enough_outcomes_says_what_is_missing(marketer_client, actors):
    response = marketer_client.post("/definitions/suggest/", follow=True)
    assert b"needs at least 20 won and 20 lost outcomes" in response.content
    with tenant_context(actors.tenant_a):
        assert not LeadDefinition.objects.exists()


def test_draft_editor_shows_the_rules_as_tables_and_links_the_builder_not_json(
    marketer_client, draft
):
    content = marketer_client.get(f"/definitions/{draft.pk}/").content.decode()
    assert 'name="fit_rules"' not in content  # the JSON is the API's only
    assert f'href="/definitions/{draft.pk}/rules/"' in content
    assert draft.fit_rules[0]["label"] in content
    assert "Save draft" in content
    assert f'hx-get="/definitions/{draft.pk}/what-if/"' in content


def test_editing_a_drafts_threshold_saves_and_withdraws_sign_offs(
    marketer_client, actors, draft, managers
):
    with tenant_context(actors.tenant_a):
        definition_services.sign_definition(
            definition=draft, side="marketing", by=managers[0].principal
        )
    response = marketer_client.post(
        f"/definitions/{draft.pk}/", editor_data(draft, mql_threshold="75"), follow=True
    )
    assert b"saved; it needs both sign-offs again" in response.content
    assert reload(LeadDefinition, actors.tenant_a, draft.pk).mql_threshold == 75
    with tenant_context(actors.tenant_a):
        assert not DefinitionSignOff.objects.exists()


def test_saving_an_unchanged_draft_keeps_its_sign_offs(marketer_client, actors, draft, managers):
    with tenant_context(actors.tenant_a):
        definition_services.sign_definition(
            definition=draft, side="marketing", by=managers[0].principal
        )
    response = marketer_client.post(f"/definitions/{draft.pk}/", editor_data(draft), follow=True)
    assert b"Nothing changed." in response.content
    with tenant_context(actors.tenant_a):
        assert DefinitionSignOff.objects.count() == 1


def test_an_active_version_is_read_only_with_a_copy_button(marketer_client, actors, active):
    content = marketer_client.get(f"/definitions/{active.pk}/").content.decode()
    assert "Save draft" not in content
    assert "Copy to new draft" in content
    response = marketer_client.post(f"/definitions/{active.pk}/", editor_data(active))
    assert response.status_code == 409
    assert "copy it to a new draft to change it" in response.content.decode()


def test_copying_a_version_makes_a_new_draft(marketer_client, actors, active):
    response = marketer_client.post(f"/definitions/{active.pk}/copy/")
    with tenant_context(actors.tenant_a):
        copy = LeadDefinition.objects.get(status="draft")
    assert response["Location"] == f"/definitions/{copy.pk}/"
    assert copy.fit_rules == active.fit_rules


def test_two_managers_sign_and_one_activates(
    client, actors, draft, managers, django_capture_on_commit_callbacks
):
    marketing, sales = managers
    page = client_for(client, marketing).get(f"/definitions/{draft.pk}/").content.decode()
    assert "Sign for marketing" in page and "Sign for sales" in page
    assert "Activate version" not in page
    response = client.post(f"/definitions/{draft.pk}/sign/", {"side": "marketing"}, follow=True)
    assert b"You signed version" in response.content
    assert b"Sign for sales" not in response.content  # one person signs one side only

    response = client_for(client, sales).post(
        f"/definitions/{draft.pk}/sign/", {"side": "sales"}, follow=True
    )
    assert b"Activate version" in response.content
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/definitions/{draft.pk}/activate/", follow=True)
    assert callbacks, "rescoring is enqueued once the activation commits"
    assert b"is now active" in response.content
    assert reload(LeadDefinition, actors.tenant_a, draft.pk).status == "active"
    with tenant_context(actors.tenant_a):
        assert RescoreJob.objects.filter(definition=draft).exists()
    assert b'id="rescore-progress"' in response.content


def test_one_manager_cannot_sign_both_sides(client, actors, draft, managers):
    client_for(client, managers[0])
    client.post(f"/definitions/{draft.pk}/sign/", {"side": "marketing"})
    response = client.post(f"/definitions/{draft.pk}/sign/", {"side": "sales"}, follow=True)
    assert b"a second person must sign" in response.content
    with tenant_context(actors.tenant_a):
        assert DefinitionSignOff.objects.count() == 1


def test_activation_without_both_sign_offs_says_which_is_missing(client, actors, draft, managers):
    client_for(client, managers[0])
    response = client.post(f"/definitions/{draft.pk}/activate/", follow=True)
    assert b"Needs the marketing and sales sign-off" in response.content
    assert reload(LeadDefinition, actors.tenant_a, draft.pk).status == "draft"


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_only_managers_and_admins_sign_or_activate(client, actors, draft, role):
    signer = make_actor(actors.tenant_a, role)
    client_for(client, signer)
    assert client.post(f"/definitions/{draft.pk}/sign/", {"side": "sales"}).status_code == 403
    assert client.post(f"/definitions/{draft.pk}/activate/").status_code == 403
    with tenant_context(actors.tenant_a):
        assert not DefinitionSignOff.objects.exists()


def test_what_if_compares_the_draft_with_the_active_version(marketer_client, actors, draft):
    InquiryFactory(tenant=actors.tenant_a, created_at=timezone.now() - timedelta(days=2))
    response = marketer_client.get(f"/definitions/{draft.pk}/what-if/", HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert "<html" not in content  # a partial for htmx
    assert 'id="what-if-data"' in content
    assert "Sales capacity" not in content  # the legend is drawn by what_if.js
    data = json.loads(content.split('type="application/json">')[1].split("</script>")[0])
    assert set(data) == {"weeks", "draft", "active", "capacity"}
    assert len(data["weeks"]) == len(data["draft"]) == len(data["active"])
    assert data["capacity"] == draft.weekly_capacity
    assert 'data-testid="what-if-table"' in content
    assert "Became leads" in content


def test_what_if_without_htmx_is_a_whole_page_with_the_chart_script(marketer_client, draft):
    content = marketer_client.get(f"/definitions/{draft.pk}/what-if/").content.decode()
    assert "<html" in content
    assert "vendor/chartjs/chart.umd.min.js" in content
    assert "leadflow/what_if.js" in content
    assert "<script>" not in content  # no inline script: the CSP allows only files


def test_the_active_version_is_not_compared_with_itself(marketer_client, active):
    content = marketer_client.get(f"/definitions/{active.pk}/what-if/").content.decode()
    assert "(this is the active version)" in content


def test_rescore_progress_polls_while_running_and_stops_when_done(marketer_client, actors, active):
    with tenant_context(actors.tenant_a):
        job = RescoreJob.objects.create(
            tenant=actors.tenant_a, definition=active, status="running", total=200, done=50
        )
    content = marketer_client.get(f"/definitions/{active.pk}/rescore-progress/").content.decode()
    assert "50 of 200 inquiries (25%)" in content
    assert '<progress value="50" max="200"' in content
    assert 'hx-trigger="every 2s"' in content
    with tenant_context(actors.tenant_a):
        RescoreJob.objects.filter(pk=job.pk).update(status="done", done=200)
    content = marketer_client.get(f"/definitions/{active.pk}/rescore-progress/").content.decode()
    assert "Rescored" in content
    assert "hx-trigger" not in content


# --- Query counts --------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 20])
def test_inquiry_list_query_count_does_not_grow_with_rows(
    marketer_client, actors, django_assert_num_queries, rows
):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a)
    for _ in range(rows):
        InquiryFactory(tenant=actors.tenant_a, definition=definition)
    marketer_client.get("/inquiries/")
    # session, user, memberships; capped counts, page; the triage inbox's choices: campaigns,
    # custom fields, disqualify reasons, members, saved views, partners
    # (tests/inquiries/test_inbox.py); with no reasons, a marketer is told who adds them:
    # the admins and managers
    with django_assert_num_queries(12):
        marketer_client.get("/inquiries/")


@pytest.mark.parametrize("rows", [1, 12])
def test_definition_list_query_count_does_not_grow_with_rows(
    marketer_client, actors, managers, django_assert_num_queries, rows
):
    for version in range(1, rows + 1):
        definition = LeadDefinitionFactory(tenant=actors.tenant_a, version=version, status="draft")
        with tenant_context(actors.tenant_a):
            for side, manager in zip(("marketing", "sales"), managers, strict=True):
                definition_services.sign_definition(
                    definition=definition, side=side, by=manager.principal
                )
    marketer_client.get("/definitions/")
    # session, user, memberships, count, page, sign-offs, their users
    with django_assert_num_queries(7):
        marketer_client.get("/definitions/")
