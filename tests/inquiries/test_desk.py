"""Working one inquiry: notes, assign, disqualify and requalify — services and API."""

import pytest

from inquiries.models import DisqualifyReason, Inquiry, InquiryNote
from inquiries.services.desk import (
    add_note,
    assign_inquiry,
    disqualify_inquiry,
    requalify_inquiry,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role, StageChange
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadDefinitionFactory


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def reason(actors):
    with tenant_context(actors.tenant_a):
        return DisqualifyReason.objects.create(tenant=actors.tenant_a, label="Student")


@pytest.fixture
def mql(actors):
    return InquiryFactory(tenant=actors.tenant_a, stage="mql")


def reload(actors, inquiry) -> Inquiry:
    with tenant_context(actors.tenant_a):
        return Inquiry.objects.get(pk=inquiry.pk)


def test_a_note_is_written_with_its_author_and_audited(actors, qualifier, mql):
    with tenant_context(actors.tenant_a):
        note = add_note(inquiry=mql, text="  Prefers email.  ", by=qualifier.principal)
        assert (note.text, note.author_id) == ("Prefers email.", qualifier.user.pk)
        assert AuditEvent.objects.filter(action="inquiry.note_added").count() == 1


def test_a_blank_note_is_refused_and_nothing_is_written(actors, qualifier, mql):
    with tenant_context(actors.tenant_a):
        with pytest.raises(RuleViolation) as refused:
            add_note(inquiry=mql, text="   ", by=qualifier.principal)
        assert refused.value.field == "text"
        assert InquiryNote.objects.count() == 0


def test_assigning_sets_the_qualifier_and_audits_before_and_after(actors, qualifier, mql):
    with tenant_context(actors.tenant_a):
        assign_inquiry(inquiry=mql, assignee=qualifier.user, by=actors.teammate.principal)
        event = AuditEvent.objects.get(action="inquiry.assigned")
    assert reload(actors, mql).assigned_to_id == qualifier.user.pk
    assert (event.before, event.after) == (
        {"assigned_to": None},
        {"assigned_to": qualifier.user.pk},
    )


def test_assigning_to_a_rep_is_refused(actors, mql):
    rep = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        assign_inquiry(inquiry=mql, assignee=rep.user, by=actors.teammate.principal)
    assert refused.value.field == "assignee"
    assert reload(actors, mql).assigned_to_id is None


def test_disqualifying_moves_through_the_mover_with_the_reason(actors, qualifier, mql, reason):
    with tenant_context(actors.tenant_a):
        disqualify_inquiry(inquiry=mql, reason=reason, by=qualifier.principal)
        change = StageChange.objects.get(machine="inquiry", object_id=mql.pk)
    fresh = reload(actors, mql)
    assert (fresh.stage, fresh.disqualified_reason) == ("disqualified", "Student")
    assert (change.from_stage, change.to_stage, change.reason) == ("mql", "disqualified", "Student")


def test_a_lead_is_not_disqualified_by_the_qualifier(actors, qualifier, reason):
    lead = InquiryFactory(tenant=actors.tenant_a, stage="lead")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation):
        disqualify_inquiry(inquiry=lead, reason=reason, by=qualifier.principal)
    assert reload(actors, lead).stage == "lead"


def test_requalifying_rescores_the_person_into_the_mql_queue(actors, qualifier, reason):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=1)
    person = InquiryFactory(tenant=actors.tenant_a, stage="inquiry")
    with tenant_context(actors.tenant_a):
        disqualify_inquiry(inquiry=person, reason=reason, by=qualifier.principal)
        requalify_inquiry(inquiry=person, by=qualifier.principal)
        moves = list(
            StageChange.objects.filter(machine="inquiry", object_id=person.pk)
            .order_by("id")
            .values_list("to_stage", "reason")
        )
    fresh = reload(actors, person)
    assert (fresh.stage, fresh.disqualified_reason) == ("mql", "")
    assert moves[1] == ("inquiry", "requalified")
    assert moves[2][0] == "mql"


def test_requalifying_someone_not_disqualified_is_refused(actors, qualifier, mql):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        requalify_inquiry(inquiry=mql, by=qualifier.principal)
    assert refused.value.field == "stage"


# --- API ---------------------------------------------------------------------------


def test_post_a_note_is_201_and_it_is_listed(actors, qualifier, mql):
    api = qualifier.api()
    response = api.post(
        f"/api/v1/inquiries/{mql.pk}/notes/", {"text": "Call after 3pm"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["author"] == "Quinn Qualifier"
    listed = api.get(f"/api/v1/inquiries/{mql.pk}/notes/").json()
    assert [row["text"] for row in listed["results"]] == ["Call after 3pm"]


def test_a_blank_note_is_400_naming_text(actors, qualifier, mql):
    response = qualifier.api().post(
        f"/api/v1/inquiries/{mql.pk}/notes/", {"text": ""}, format="json"
    )
    assert response.status_code == 400
    assert "text" in response.json()["errors"]


def test_an_unknown_field_in_a_note_is_400(actors, qualifier, mql):
    response = qualifier.api().post(
        f"/api/v1/inquiries/{mql.pk}/notes/", {"text": "x", "public": True}, format="json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("suffix", ["notes/", "requalify/"])
def test_another_tenants_inquiry_is_404(actors, mql, suffix):
    response = actors.outsider.api().post(
        f"/api/v1/inquiries/{mql.pk}/{suffix}", {"text": "x"}, format="json"
    )
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert InquiryNote.objects.count() == 0


def test_another_tenants_notes_are_404(actors, mql):
    assert actors.outsider.api().get(f"/api/v1/inquiries/{mql.pk}/notes/").status_code == 404


def test_a_rep_may_not_write_notes(actors, mql):
    rep = make_actor(actors.tenant_a, Role.REP)
    response = rep.api().post(f"/api/v1/inquiries/{mql.pk}/notes/", {"text": "x"}, format="json")
    assert response.status_code in (403, 404)


def test_requalify_through_the_api(actors, qualifier, reason):
    person = InquiryFactory(tenant=actors.tenant_a, stage="inquiry")
    with tenant_context(actors.tenant_a):
        disqualify_inquiry(inquiry=person, reason=reason, by=qualifier.principal)
    response = qualifier.api().post(f"/api/v1/inquiries/{person.pk}/requalify/")
    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "inquiry"  # no active definition: not rescored


def test_requalifying_an_mql_is_400_and_changes_nothing(actors, qualifier, mql):
    response = qualifier.api().post(f"/api/v1/inquiries/{mql.pk}/requalify/")
    assert response.status_code == 400
    assert "stage" in response.json()["errors"]
    assert reload(actors, mql).stage == "mql"


def test_the_notes_list_takes_the_same_queries_for_1_and_20_notes(
    actors, qualifier, mql, django_assert_max_num_queries
):
    api = qualifier.api()
    with tenant_context(actors.tenant_a):
        add_note(inquiry=mql, text="one", by=qualifier.principal)
    with django_assert_max_num_queries(12) as one:
        api.get(f"/api/v1/inquiries/{mql.pk}/notes/")
    with tenant_context(actors.tenant_a):
        for n in range(19):
            add_note(inquiry=mql, text=f"note {n}", by=qualifier.principal)
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = api.get(f"/api/v1/inquiries/{mql.pk}/notes/").json()
    assert body["count"] == 20
