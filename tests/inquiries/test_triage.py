"""The triage inbox in the API: filters, search, keyset pages, bulk actions, CSV export, reasons."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries.models import CustomField, DisqualifyReason, Inquiry, SavedView
from inquiries.selectors.inbox import COUNT_CAP, Selection, capped_counts
from inquiries.services import triage
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role, StageChange
from tests.conftest import make_actor
from tests.factories import CampaignFactory, InquiryFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def reload(tenant, pk) -> Inquiry:
    with tenant_context(tenant):
        return Inquiry.objects.get(pk=pk)


def ids_of(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def reason(actors):
    with tenant_context(actors.tenant_a):
        return DisqualifyReason.objects.create(tenant=actors.tenant_a, label="Student")


@pytest.fixture
def trio(actors):
    """Three inquiries of tenant A with distinct scores, stages and ages."""
    now = timezone.now()
    return [
        InquiryFactory(
            tenant=actors.tenant_a,
            first_name="Dana",
            last_name="Okafor",
            email="dana@freight.example",
            company="Freight Co",
            score=80,
            stage="mql",
            source="webinar",
            created_at=now - timedelta(days=3),
            last_activity_at=now - timedelta(hours=1),
        ),
        InquiryFactory(
            tenant=actors.tenant_a,
            first_name="Lee",
            last_name="Park",
            company="Acme Tools",
            score=40,
            stage="inquiry",
            source="web_form",
            created_at=now - timedelta(days=1),
            last_activity_at=None,
        ),
        InquiryFactory(
            tenant=actors.tenant_a,
            first_name="Sam",
            last_name="Stone",
            company="Stone Freight",
            score=10,
            stage="lead",
            source="webinar",
            created_at=now - timedelta(days=2),
            last_activity_at=now - timedelta(days=5),
        ),
    ]


# --- The list: filters, search, sort, pages --------------------------------------------


def test_list_filters_by_stage_and_source(actors, trio):
    api = actors.teammate.api()
    assert ids_of(api.get("/api/v1/inquiries/?stage=mql")) == [trio[0].pk]
    assert ids_of(api.get("/api/v1/inquiries/?source=webinar&sort=score")) == [
        trio[0].pk,
        trio[2].pk,
    ]


def test_list_filters_by_score_range_and_created_date(actors, trio):
    api = actors.teammate.api()
    assert ids_of(api.get("/api/v1/inquiries/?score_min=30&score_max=50")) == [trio[1].pk]
    since = (timezone.now() - timedelta(days=2)).date().isoformat()
    assert trio[0].pk not in ids_of(api.get(f"/api/v1/inquiries/?created_from={since}"))


def test_list_filters_by_custom_field_with_its_type(actors, trio):
    with tenant_context(actors.tenant_a):
        CustomField.objects.create(
            tenant=actors.tenant_a, key="fleet_size", label="Fleet", kind="number"
        )
        Inquiry.objects.filter(pk=trio[1].pk).update(custom={"fleet_size": 120})
    api = actors.teammate.api()
    assert ids_of(api.get("/api/v1/inquiries/?cf_fleet_size=120")) == [trio[1].pk]
    refused = api.get("/api/v1/inquiries/?cf_fleet_size=many")
    assert refused.status_code == 400


def test_list_filters_by_assignee_me_and_nobody(actors, trio):
    with tenant_context(actors.tenant_a):
        Inquiry.objects.filter(pk=trio[0].pk).update(assigned_to=actors.teammate.user)
    api = actors.teammate.api()
    assert ids_of(api.get("/api/v1/inquiries/?assigned=me")) == [trio[0].pk]
    assert trio[0].pk not in ids_of(api.get("/api/v1/inquiries/?assigned=none"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("freight", [0, 2]), ("dana oka", [0]), ("acme", [1]), ("dana@freight.example", [0])],
)
def test_search_matches_name_email_and_company_by_word_prefix(actors, trio, text, expected):
    response = actors.teammate.api().get("/api/v1/inquiries/", {"q": text, "sort": "score"})
    assert ids_of(response) == [trio[i].pk for i in expected]


def test_search_ignores_tsquery_syntax(actors, trio):
    response = actors.teammate.api().get("/api/v1/inquiries/", {"q": "freight & !( :*'"})
    assert response.status_code == 200
    assert set(ids_of(response)) == {trio[0].pk, trio[2].pk}


@pytest.mark.parametrize(
    ("sort", "order"), [("score", [0, 1, 2]), ("recent", [1, 2, 0]), ("activity", [1, 0, 2])]
)
def test_sorts_put_highest_newest_or_latest_activity_first(actors, trio, sort, order):
    response = actors.teammate.api().get("/api/v1/inquiries/", {"sort": sort})
    assert ids_of(response) == [trio[i].pk for i in order]


@pytest.mark.parametrize("sort", ["score", "recent", "activity"])
def test_keyset_pages_cover_every_row_once_in_order(actors, sort):
    now = timezone.now()
    made = [
        InquiryFactory(
            tenant=actors.tenant_a,
            score=n % 3,  # ties: the id breaks them
            created_at=now - timedelta(minutes=n % 4),
            last_activity_at=None if n % 5 == 0 else now - timedelta(minutes=n % 3),
        )
        for n in range(11)
    ]
    api = actors.teammate.api()
    url, seen = f"/api/v1/inquiries/?sort={sort}&page_size=4", []
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    def key(inquiry):
        if sort == "score":
            return (-inquiry.score, -inquiry.pk)
        if sort == "recent":
            return (-inquiry.created_at.timestamp(), -inquiry.pk)
        moment = inquiry.last_activity_at
        return (moment is not None, -(moment.timestamp() if moment else 0), -inquiry.pk)

    expected = [inquiry.pk for inquiry in sorted(made, key=key)]
    assert seen == expected


def test_a_forged_cursor_is_404_like_a_page_that_does_not_exist(actors, trio):
    response = actors.teammate.api().get("/api/v1/inquiries/?sort=score&cursor=bm9wZQ")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_bad_filter_is_400_with_the_field(actors):
    response = actors.teammate.api().get("/api/v1/inquiries/?stage=won&score_min=lots")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"stage", "score_min"}


def test_count_is_capped_for_big_results(actors, trio):
    with tenant_context(actors.tenant_a):
        counts = capped_counts({"all": Inquiry.objects.all()})
    assert (counts["all"].value, counts["all"].capped) == (3, False)
    assert COUNT_CAP == 10_000
    body = actors.teammate.api().get("/api/v1/inquiries/").json()
    assert (body["count"], body["count_capped"]) == (3, False)


def test_count_says_capped_past_the_cap(actors, trio, monkeypatch):
    monkeypatch.setattr("inquiries.selectors.inbox.COUNT_CAP", 2)
    body = actors.teammate.api().get("/api/v1/inquiries/").json()
    assert (body["count"], body["count_capped"]) == (2, True)


@pytest.mark.parametrize("rows", [1, 12])
def test_sorted_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, rows):
    for _ in range(rows):
        InquiryFactory(tenant=actors.tenant_a)
    api = actors.teammate.api()
    api.get("/api/v1/me/")
    # token, membership, tenant scope... (as the plain list) + capped count + page
    with django_assert_num_queries(4):
        assert (
            len(api.get("/api/v1/inquiries/?sort=score&stage=inquiry&q=pat").json()["results"])
            == rows
        )


# --- Bulk actions ----------------------------------------------------------------------


def test_bulk_assign_sets_the_assignee_and_writes_one_audit_event(actors, trio, qualifier):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "assign", "ids": [trio[0].pk, trio[1].pk], "assignee": qualifier.user.pk},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"action": "assign", "matched": 2, "changed": 2, "skipped": 0}
    assert reload(actors.tenant_a, trio[0].pk).assigned_to_id == qualifier.user.pk
    assert reload(actors.tenant_a, trio[2].pk).assigned_to_id is None
    with tenant_context(actors.tenant_a):
        events = list(AuditEvent.objects.filter(action="inquiry.bulk_assigned"))
    assert len(events) == 1
    assert events[0].after["changed"] == 2


def test_bulk_assign_to_a_rep_or_another_tenants_user_is_400(actors, trio):
    rep = make_actor(actors.tenant_a, Role.REP)
    api = actors.teammate.api()
    for user in (rep.user, actors.outsider.user):
        response = api.post(
            "/api/v1/inquiries/bulk/",
            {"action": "assign", "ids": [trio[0].pk], "assignee": user.pk},
            format="json",
        )
        assert response.status_code == 400
        assert "assignee" in response.json()["errors"]
    assert reload(actors.tenant_a, trio[0].pk).assigned_to_id is None


def test_bulk_disqualify_leaves_leads_alone(actors, trio, reason):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "disqualify", "ids": [t.pk for t in trio], "reason": reason.pk},
        format="json",
    )
    assert response.json() == {"action": "disqualify", "matched": 3, "changed": 2, "skipped": 1}
    assert reload(actors.tenant_a, trio[0].pk).stage == "disqualified"
    assert reload(actors.tenant_a, trio[0].pk).disqualified_reason == "Student"
    assert reload(actors.tenant_a, trio[2].pk).stage == "lead"


def test_disqualifying_only_a_lead_is_a_conflict(actors, trio, reason):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "disqualify", "ids": [trio[2].pk], "reason": reason.pk},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "already_lead"
    assert reload(actors.tenant_a, trio[2].pk).stage == "lead"


def test_disqualify_needs_a_reason_of_the_tenants_list(actors, trio):
    with tenant_context(actors.tenant_b):
        foreign = DisqualifyReason.objects.create(tenant=actors.tenant_b, label="Other")
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "disqualify", "ids": [trio[0].pk], "reason": foreign.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert reload(actors.tenant_a, trio[0].pk).stage == "mql"


def test_bulk_nurture_moves_through_the_stage_mover(actors, trio):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "nurture", "ids": [t.pk for t in trio]},
        format="json",
    )
    assert response.json() == {"action": "nurture", "matched": 3, "changed": 2, "skipped": 1}
    assert reload(actors.tenant_a, trio[1].pk).stage == "nurture"
    with tenant_context(actors.tenant_a):
        history = StageChange.objects.values_list("object_id", "to_stage", "actor_label")
        assert sorted(history) == [
            (trio[0].pk, "nurture", actors.teammate.user.email),
            (trio[1].pk, "nurture", actors.teammate.user.email),
        ]


def test_bulk_add_to_campaign_on_all_matching_a_filter(actors, trio):
    campaign = CampaignFactory(tenant=actors.tenant_a, name="Spring webinar")
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "add_to_campaign", "filter": "source=webinar", "campaign": campaign.pk},
        format="json",
    )
    assert response.json()["changed"] == 2
    assert reload(actors.tenant_a, trio[0].pk).campaign_id == campaign.pk
    assert reload(actors.tenant_a, trio[1].pk).campaign_id is None


def test_all_matching_never_reaches_another_tenant(actors, trio, qualifier):
    other = InquiryFactory(tenant=actors.tenant_b, source="webinar")
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "assign", "filter": "", "assignee": qualifier.user.pk},
        format="json",
    )
    assert response.json()["changed"] == 3
    assert reload(actors.tenant_b, other.pk).assigned_to_id is None


def test_bulk_with_another_tenants_id_is_404_and_changes_nothing(actors, trio, qualifier):
    other = InquiryFactory(tenant=actors.tenant_b)
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "assign", "ids": [trio[0].pk, other.pk], "assignee": qualifier.user.pk},
        format="json",
    )
    assert response.status_code == 404
    assert reload(actors.tenant_a, trio[0].pk).assigned_to_id is None


def test_bulk_with_a_bad_filter_is_400(actors, trio):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/", {"action": "nurture", "filter": "score_min=lots"}, format="json"
    )
    assert response.status_code == 400
    assert "filter" in response.json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "nurture"},
        {"action": "nurture", "ids": []},
        {"action": "nurture", "ids": [1], "filter": ""},
        {"action": "explode", "ids": [1]},
        {"action": "assign", "ids": [1]},
    ],
)
def test_bulk_bad_input_is_400(actors, trio, body):
    assert (
        actors.teammate.api().post("/api/v1/inquiries/bulk/", body, format="json").status_code
        == 400
    )


def test_a_qualifier_may_triage(actors, trio, qualifier):
    response = qualifier.api().post(
        "/api/v1/inquiries/bulk/", {"action": "nurture", "ids": [trio[1].pk]}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("who", ["rep", "partner"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/inquiries/"),
        ("post", "/api/v1/inquiries/bulk/"),
        ("get", "/api/v1/inquiries/export.csv"),
        ("get", "/api/v1/disqualify-reasons/"),
        ("get", "/api/v1/inquiries/saved-views/"),
        ("post", "/api/v1/inquiries/saved-views/"),
    ],
)
def test_reps_and_partners_cannot_use_the_inbox_api(actors, trio, who, method, path):
    if who == "rep":
        actor = make_actor(actors.tenant_a, Role.REP)
    else:
        actor = make_actor(
            actors.tenant_a, Role.REP, partner=PartnerFactory(tenant=actors.tenant_a)
        )
    response = getattr(actor.api(), method)(
        path, {"action": "nurture", "ids": [trio[0].pk]}, format="json"
    )
    assert response.status_code == 403


def test_service_refuses_an_empty_selection(actors, system_a):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation):
        triage.nurture_inquiries(selection=Selection(ids=()), by=system_a)


# --- CSV export -------------------------------------------------------------------------


def test_export_streams_the_filtered_inquiries_as_csv(actors, trio):
    response = actors.teammate.api().get("/api/v1/inquiries/export.csv?source=webinar")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["id"]) for r in rows] == [trio[2].pk, trio[0].pk]  # newest first
    assert rows[1]["email"] == "dana@freight.example"
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="inquiry.exported")
    assert event.after == {"filter": "source=webinar"}


def test_export_of_chosen_ids(actors, trio):
    response = actors.teammate.api().get(f"/api/v1/inquiries/export.csv?ids={trio[1].pk}")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["id"]) for r in rows] == [trio[1].pk]


def test_export_neutralises_formulas(actors):
    InquiryFactory(
        tenant=actors.tenant_a,
        first_name="=HYPERLINK(1)",
        last_name="+1",
        company="@SUM(A1)",
        title="-2",
    )
    response = actors.teammate.api().get("/api/v1/inquiries/export.csv")
    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert (row["first_name"], row["last_name"], row["company"], row["title"]) == (
        "'=HYPERLINK(1)",
        "'+1",
        "'@SUM(A1)",
        "'-2",
    )


def test_export_of_another_tenants_id_is_404(actors, trio):
    other = InquiryFactory(tenant=actors.tenant_b)
    response = actors.teammate.api().get(f"/api/v1/inquiries/export.csv?ids={other.pk}")
    assert response.status_code == 404


# --- Disqualify reasons ------------------------------------------------------------------


def test_admin_adds_and_retires_a_reason_and_a_marketer_only_reads(actors):
    admin = actors.owner.api()
    created = admin.post("/api/v1/disqualify-reasons/", {"label": "No budget"}, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    retired = admin.patch(f"/api/v1/disqualify-reasons/{pk}/", {"active": False}, format="json")
    assert retired.json()["active"] is False
    marketer = actors.teammate.api()
    assert marketer.get("/api/v1/disqualify-reasons/").json()["results"][0]["label"] == "No budget"
    refused = marketer.post("/api/v1/disqualify-reasons/", {"label": "x"}, format="json")
    assert refused.status_code == 403


def test_a_duplicate_reason_is_400(actors, reason):
    response = actors.owner.api().post(
        "/api/v1/disqualify-reasons/", {"label": "student"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "duplicate"


def test_a_retired_reason_cannot_be_used(actors, trio, reason, system_a):
    with tenant_context(actors.tenant_a):
        triage.change_disqualify_reason(reason=reason, active=False, by=system_a)
        with pytest.raises(RuleViolation):
            triage.disqualify_inquiries(
                selection=Selection(ids=(trio[0].pk,)), reason=reason, by=system_a
            )


@pytest.mark.parametrize("method", ["get", "patch"])
def test_another_tenants_reason_is_404(actors, reason, method):
    response = getattr(actors.outsider.api(), method)(
        f"/api/v1/disqualify-reasons/{reason.pk}/", {"label": "Mine"}, format="json"
    )
    assert response.status_code == 404


# --- Saved views -------------------------------------------------------------------------

VIEWS = "/api/v1/inquiries/saved-views/"


def saved_view(actor, name="Hot MQLs", query="stage=mql") -> SavedView:
    with tenant_context(actor.tenant):
        return SavedView.objects.create(
            tenant=actor.tenant, user=actor.user, name=name, query=query
        )


def test_a_saved_view_is_created_with_its_query_cleaned(actors):
    response = actors.teammate.api().post(
        VIEWS,
        {"name": " Hot  MQLs ", "query": "?stage=mql&sort=score&cursor=abc&page=3&q="},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["query"]) == ("Hot MQLs", "stage=mql&sort=score")
    assert body["inquiries_url"].endswith("/api/v1/inquiries/?stage=mql&sort=score")


def test_saving_a_name_again_replaces_the_view(actors):
    api = actors.teammate.api()
    first = api.post(VIEWS, {"name": "Mine", "query": "stage=mql"}, format="json").json()
    second = api.post(VIEWS, {"name": "Mine", "query": "stage=nurture"}, format="json").json()
    assert second["id"] == first["id"]
    assert [v["query"] for v in api.get(VIEWS).json()["results"]] == ["stage=nurture"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("stage=won", "stage"),
        ("sort=colour", "Unknown sort 'colour'"),
        ("score_min=lots", "score_min"),
        ("x" * 2001, "2000 characters"),
    ],
)
def test_a_saved_view_with_a_bad_query_is_400_and_nothing_is_saved(actors, query, message):
    response = actors.teammate.api().post(VIEWS, {"name": "Broken", "query": query}, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"]["query"])
    with tenant_context(actors.tenant_a):
        assert not SavedView.objects.exists()


def test_a_saved_view_needs_a_name(actors):
    response = actors.teammate.api().post(
        VIEWS, {"name": "  ", "query": "stage=mql"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_the_list_shows_only_the_callers_own_views(actors):
    saved_view(actors.teammate, name="Teammate's")
    saved_view(actors.owner, name="Owner's")
    names = [v["name"] for v in actors.teammate.api().get(VIEWS).json()["results"]]
    assert names == ["Teammate's"]


def test_another_users_view_is_404_to_read_and_to_delete(actors):
    view = saved_view(actors.owner)
    api = actors.teammate.api()
    assert api.get(f"{VIEWS}{view.pk}/").status_code == 404
    assert api.delete(f"{VIEWS}{view.pk}/").status_code == 404
    with tenant_context(actors.tenant_a):
        assert SavedView.objects.filter(pk=view.pk).exists()


@pytest.mark.parametrize("method", ["get", "delete"])
def test_another_tenants_view_is_404(actors, method):
    view = saved_view(actors.owner)
    assert getattr(actors.outsider.api(), method)(f"{VIEWS}{view.pk}/").status_code == 404


def test_deleting_a_view_forgets_it_and_is_audited(actors):
    view = saved_view(actors.teammate)
    assert actors.teammate.api().delete(f"{VIEWS}{view.pk}/").status_code == 204
    with tenant_context(actors.tenant_a):
        assert not SavedView.objects.exists()
        assert AuditEvent.objects.filter(action="saved_view.deleted").count() == 1


@pytest.mark.parametrize("count", [1, 6])
def test_the_saved_view_list_query_count_does_not_grow_with_views(
    actors, django_assert_num_queries, count
):
    for n in range(count):
        saved_view(actors.teammate, name=f"View {n}")
    api = actors.teammate.api()
    api.get(VIEWS)
    # the caller (token, user, membership), the count, the page
    with django_assert_num_queries(4):
        assert len(api.get(VIEWS).json()["results"]) == count
