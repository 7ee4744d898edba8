"""Merging inquiries that are the same person: the rule per field, the API, and its refusals."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from inquiries.models import Activity, CustomField, Inquiry
from inquiries.selectors import scoring as scoring_selectors
from inquiries.services import scoring as scoring_services
from inquiries.services.merging import merge_inquiries, preview_merge
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from tests.conftest import make_actor, transactional_databases
from tests.factories import (
    ActivityFactory,
    InquiryFactory,
    LeadDefinitionFactory,
    LeadFactory,
    PartnerFactory,
    TenantFactory,
)


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def person(tenant, *, days: float, **fields):
    """An inquiry last touched ``days`` ago (its recency for the merge rule)."""
    when = ago(days)
    fields = {"created_at": when, "updated_at": when, "last_activity_at": None, **fields}
    return InquiryFactory(tenant=tenant, **fields)


def merge(actor, survivor, *others, confirm=True):
    body = {"others": [o.pk for o in others], "confirm": confirm}
    return actor.api().post(f"/api/v1/inquiries/{survivor.pk}/merge/", body, format="json")


def reload(tenant, inquiry):
    with tenant_context(tenant):
        return Inquiry.objects.get(pk=inquiry.pk)


def update(tenant, *inquiries, **fields):
    with tenant_context(tenant):
        Inquiry.objects.filter(pk__in=[i.pk for i in inquiries]).update(**fields)


def written(tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {
            "inquiries": Inquiry.objects.count(),
            "merged": Activity.objects.filter(kind="merged").count(),
            "audit": AuditEvent.objects.filter(action__startswith="inquiry.merged").count()
            + AuditEvent.objects.filter(action="inquiry.duplicates_merged").count(),
        }


@pytest.fixture
def pair(actors):
    """The same person twice in tenant A: an older record and a newer one."""
    older = person(
        actors.tenant_a,
        days=30,
        first_name="Dana",
        last_name="Okafor",
        email="dana@freight.example",
        title="VP Logistics",
        company="Freight Co",
        consent="opted_in",
        external_source="crm",
        external_id="C-1",
        custom={"fleet_size": 120, "budget": 5000},
    )
    newer = person(
        actors.tenant_a,
        days=1,
        first_name="Dana",
        last_name="Okafor",
        email="d.okafor@freight.example",
        title="",
        company="Freight Company Ltd",
        consent="opted_out",
        custom={"fleet_size": "", "budget": 9000},
    )
    ActivityFactory(tenant=actors.tenant_a, inquiry=older, kind="webinar", occurred_at=ago(20))
    ActivityFactory(tenant=actors.tenant_a, inquiry=newer, kind="download", occurred_at=ago(2))
    ActivityFactory(tenant=actors.tenant_a, inquiry=newer, kind="form_fill", occurred_at=ago(1))
    return older, newer


def run_merge(actors, survivor, *others):
    with tenant_context(actors.tenant_a):
        return merge_inquiries(survivor=survivor, others=list(others), by=actors.teammate.principal)


# --- The rule, in the service -------------------------------------------------------


def test_merge_moves_every_activity_to_the_survivor_and_records_the_merge(actors, pair):
    older, newer = pair
    run_merge(actors, older, newer)
    with tenant_context(actors.tenant_a):
        kinds = sorted(Activity.objects.filter(inquiry_id=older.pk).values_list("kind", flat=True))
        merged = Activity.objects.get(inquiry_id=older.pk, kind="merged")
        assert not Inquiry.objects.filter(pk=newer.pk).exists()
    assert kinds == ["download", "form_fill", "merged", "webinar"]
    assert merged.details["merged_inquiries"] == [newer.pk]


def test_a_merged_persons_outcome_value_and_day_are_kept_in_the_audit(actors, pair):
    older, newer = pair
    with tenant_context(actors.tenant_a):
        Inquiry.objects.filter(pk=newer.pk).update(
            outcome="won", outcome_on=date(2026, 3, 2), outcome_value=Decimal("1250.50")
        )
        newer.refresh_from_db()
    run_merge(actors, older, newer)
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="inquiry.duplicates_merged")
    kept = event.before["inquiries"][str(newer.pk)]
    assert (kept["outcome_on"], kept["outcome_value"]) == ("2026-03-02", "1250.50")


def test_the_newest_non_empty_value_wins_per_field_and_per_custom_key(actors, pair):
    older, newer = pair
    survivor = reload(actors.tenant_a, run_merge(actors, older, newer))
    assert survivor.email == "d.okafor@freight.example"  # newest
    assert survivor.company == "Freight Company Ltd"  # newest
    assert survivor.title == "VP Logistics"  # the newest is empty, the older one counts
    assert survivor.custom == {"fleet_size": 120, "budget": 9000}


def test_the_survivor_takes_the_losers_email_without_breaking_uniqueness(actors, pair):
    older, newer = pair
    survivor = reload(actors.tenant_a, run_merge(actors, older, newer))
    assert (survivor.email, survivor.company_domain) == (
        "d.okafor@freight.example",
        "freight.example",
    )
    assert (survivor.external_source, survivor.external_id) == ("crm", "C-1")


def test_an_external_id_moves_with_its_source_from_a_loser(actors):
    survivor = person(actors.tenant_a, days=9, email="a@one.example")
    loser = person(
        actors.tenant_a,
        days=1,
        email="",
        phone="+1 555 010 2000",
        phone_normalized="+15550102000",
        external_source="hubspot",
        external_id="77",
    )
    merged = reload(actors.tenant_a, run_merge(actors, survivor, loser))
    assert (merged.external_source, merged.external_id) == ("hubspot", "77")
    assert (merged.phone, merged.phone_normalized) == ("+1 555 010 2000", "+15550102000")
    assert merged.email == "a@one.example"


@pytest.mark.parametrize(
    ("older_consent", "newer_consent", "merged"),
    [
        ("opted_in", "opted_out", "opted_out"),
        ("opted_out", "opted_in", "opted_out"),
        ("opted_in", "unknown", "unknown"),
        ("unknown", "opted_in", "unknown"),
        ("opted_in", "opted_in", "opted_in"),
    ],
)
def test_the_stricter_consent_wins_whichever_is_newer(actors, older_consent, newer_consent, merged):
    older = person(actors.tenant_a, days=10, consent=older_consent)
    newer = person(actors.tenant_a, days=1, consent=newer_consent)
    assert reload(actors.tenant_a, run_merge(actors, newer, older)).consent == merged


def test_the_merged_person_keeps_the_earliest_first_seen_and_latest_activity(actors, pair):
    older, newer = pair
    update(actors.tenant_a, newer, last_activity_at=ago(1))
    survivor = reload(actors.tenant_a, run_merge(actors, newer, older))
    assert survivor.created_at == older.created_at
    assert abs(survivor.last_activity_at - ago(1)) < timedelta(seconds=5)


def test_the_score_is_recomputed_as_for_the_combined_person(actors, pair):
    older, newer = pair
    definition = LeadDefinitionFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        scoring_services.score_inquiry(inquiry=older, by=actors.owner.principal)
        score_before = Inquiry.objects.get(pk=older.pk).score
    survivor = reload(actors.tenant_a, run_merge(actors, older, newer))
    with tenant_context(actors.tenant_a):
        fresh = scoring_selectors.compute_score(
            inquiry=survivor, definition=definition, as_of=survivor.scored_at
        )
    assert survivor.score == fresh.total
    assert survivor.score > score_before  # the newer record's download and form fill count
    assert survivor.definition_id == definition.pk


def test_the_merge_is_audited_with_every_inquiry_as_it_was(actors, pair):
    older, newer = pair
    run_merge(actors, older, newer)
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="inquiry.duplicates_merged")
        trail = AuditEvent.objects.get(action="inquiry.merged_into")
    assert event.object_id == str(older.pk)
    assert event.actor == actors.teammate.user
    snapshots = event.before["inquiries"]
    assert set(snapshots) == {str(older.pk), str(newer.pk)}
    assert snapshots[str(newer.pk)]["email"] == "d.okafor@freight.example"
    assert snapshots[str(newer.pk)]["consent"] == "opted_out"
    assert snapshots[str(older.pk)]["custom"] == {"fleet_size": 120, "budget": 5000}
    assert event.after["merged"] == [newer.pk]
    assert len(event.after["activities_moved"][str(newer.pk)]) == 2
    assert (trail.object_id, trail.after) == (str(newer.pk), {"survivor": older.pk})


def test_a_lead_is_kept_as_the_survivor(actors, pair):
    older, newer = pair
    lead = LeadFactory(tenant=actors.tenant_a, inquiry=older)
    update(actors.tenant_a, older, stage="lead")
    survivor = reload(actors.tenant_a, run_merge(actors, reload(actors.tenant_a, older), newer))
    assert survivor.stage == "lead"
    # Read back without importing leads (inquiries' tests stay on inquiries' side).
    with tenant_context(actors.tenant_a):
        lead.appointment.refresh_from_db()
    assert lead.appointment.inquiry_id == older.pk


def test_a_lead_is_never_merged_away(actors, pair):
    older, newer = pair
    LeadFactory(tenant=actors.tenant_a, inquiry=older)
    update(actors.tenant_a, older, stage="lead")
    before = written(actors.tenant_a)
    with pytest.raises(RuleViolation) as refused:
        run_merge(actors, newer, reload(actors.tenant_a, older))
    assert refused.value.code == "lead_must_survive"
    assert written(actors.tenant_a) == before


def test_two_leads_cannot_be_merged(actors, pair):
    older, newer = pair
    for inquiry in pair:
        LeadFactory(tenant=actors.tenant_a, inquiry=inquiry)
    update(actors.tenant_a, older, newer, stage="lead")
    with pytest.raises(RuleViolation) as refused:
        run_merge(actors, reload(actors.tenant_a, older), reload(actors.tenant_a, newer))
    assert refused.value.code == "several_leads"


def test_a_disqualified_person_stays_disqualified(actors, pair):
    older, newer = pair
    update(actors.tenant_a, older, stage="disqualified", disqualified_reason="Competitor")
    survivor = reload(actors.tenant_a, run_merge(actors, newer, reload(actors.tenant_a, older)))
    assert (survivor.stage, survivor.disqualified_reason) == ("disqualified", "Competitor")


@pytest.mark.parametrize(
    ("others", "code"),
    [("self", "self_merge"), ("none", "too_few"), ("many", "too_many")],
)
def test_impossible_merges_are_refused(actors, pair, others, code):
    older, newer = pair
    chosen = {
        "self": [older],
        "none": [],
        "many": [InquiryFactory(tenant=actors.tenant_a) for _ in range(20)],
    }[others]
    before = written(actors.tenant_a)
    with pytest.raises(RuleViolation) as refused:
        run_merge(actors, older, *chosen)
    assert refused.value.code == code
    assert written(actors.tenant_a) == before


def test_the_preview_shows_each_value_the_winner_and_why(actors, pair):
    older, newer = pair
    with tenant_context(actors.tenant_a):
        CustomField.objects.create(
            tenant=actors.tenant_a, key="fleet_size", label="Fleet size", kind="number"
        )
        preview = preview_merge(survivor=older, others=[newer])
        assert Inquiry.objects.count() == 2  # nothing written
    assert [i.pk for i in preview.inquiries] == [newer.pk, older.pk]  # newest first
    fields = {c.name: c for c in preview.fields}
    assert fields["title"].values == ("", "VP Logistics")
    assert (fields["title"].winner_id, fields["title"].value) == (older.pk, "VP Logistics")
    assert fields["title"].reason == f"newest non-empty value (#{older.pk})"
    assert (fields["consent"].value, fields["consent"].reason) == ("opted_out", "strictest consent")
    custom = {c.name: c for c in preview.custom}
    assert (custom["fleet_size"].label, custom["fleet_size"].winner_id) == ("Fleet size", older.pk)
    assert preview.activity_counts == {older.pk: 1, newer.pk: 2}


# --- The API --------------------------------------------------------------------------


def test_merging_through_the_api_answers_with_the_survivor(actors, pair):
    older, newer = pair
    response = merge(actors.teammate, older, newer)
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["consent"]) == (
        older.pk,
        "d.okafor@freight.example",
        "opted_out",
    )
    with tenant_context(actors.tenant_a):
        assert list(Inquiry.objects.values_list("pk", flat=True)) == [older.pk]


def test_the_api_preview_lists_fields_with_their_winner(actors, pair):
    older, newer = pair
    response = actors.teammate.api().get(
        f"/api/v1/inquiries/{older.pk}/merge/", {"others": str(newer.pk)}
    )
    assert response.status_code == 200
    fields = {row["field"]: row for row in response.json()["fields"]}
    assert fields["email"]["winner"] == newer.pk
    assert fields["consent"]["value"] == "opted_out"


def test_a_merge_needs_confirm_true_and_writes_nothing_without(actors, pair):
    older, newer = pair
    before = written(actors.tenant_a)
    response = merge(actors.teammate, older, newer, confirm=False)
    assert response.status_code == 400
    assert "confirm" in response.json()["errors"]
    assert written(actors.tenant_a) == before


def test_a_refused_merge_is_a_400_with_the_rule(actors, pair):
    older, _newer = pair
    response = merge(actors.teammate, older, older)
    assert response.status_code == 400
    assert response.json()["code"] == "self_merge"


def test_another_tenants_survivor_is_404_and_writes_nothing(actors, pair):
    older, newer = pair
    before = written(actors.tenant_a)
    assert merge(actors.outsider, older, newer).status_code == 404
    assert written(actors.tenant_a) == before


def test_another_tenants_inquiry_among_the_others_is_404_and_writes_nothing(actors, pair):
    older, newer = pair
    foreign = InquiryFactory(tenant=actors.tenant_b)
    before_a, before_b = written(actors.tenant_a), written(actors.tenant_b)
    response = merge(actors.teammate, older, newer, foreign)
    assert response.status_code == 404
    assert (written(actors.tenant_a), written(actors.tenant_b)) == (before_a, before_b)
    preview = actors.teammate.api().get(
        f"/api/v1/inquiries/{older.pk}/merge/", {"others": f"{newer.pk},{foreign.pk}"}
    )
    assert preview.status_code == 404


def test_reps_may_not_merge(actors, pair):
    rep = make_actor(actors.tenant_a, Role.REP)
    before = written(actors.tenant_a)
    assert merge(rep, *pair).status_code == 403
    assert rep.api().get("/api/v1/inquiries/duplicates/").status_code == 403
    assert written(actors.tenant_a) == before


def test_partners_may_not_merge(actors, pair, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(name="p", partner=partner, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    older, newer = pair
    body = {"others": [newer.pk], "confirm": True}
    response = client.post(f"/api/v1/inquiries/{older.pk}/merge/", body, format="json")
    assert response.status_code == 403


# --- Overlapping merges at the same time ------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_overlapping_merges_at_once_merge_each_inquiry_once():
    tenant = TenantFactory(slug="merge-race")
    actor = make_actor(tenant, Role.QUALIFIER)
    people = [InquiryFactory(tenant=tenant) for _ in range(3)]
    for inquiry in people:
        ActivityFactory(tenant=tenant, inquiry=inquiry)
    plans = [(people[0], [people[1]]), (people[2], [people[1]])]
    start = threading.Barrier(len(plans))
    statuses: list[int] = []

    def worker(survivor, others):
        try:
            start.wait()
            statuses.append(merge(actor, survivor, *others).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=plan) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The loser waited for the lock (409), or looked after the first merge ended (404).
    assert sorted(statuses)[0] == 200
    assert sorted(statuses)[1] in (404, 409)
    with tenant_context(tenant):
        assert Inquiry.objects.count() == 2
        assert Activity.objects.exclude(kind="merged").count() == 3
        assert Activity.objects.filter(kind="merged").count() == 1
        assert not Activity.objects.exclude(inquiry_id__in=[p.pk for p in people]).exists()
