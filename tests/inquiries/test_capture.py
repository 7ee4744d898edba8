"""Capture: dedupe by email, external id and phone; merges on the timeline; scoring on arrival."""

import pytest

from inquiries.models import Activity, Inquiry
from inquiries.services.capture import capture_inquiry, record_activity
from inquiries.services.custom_fields import define_custom_field
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.factories import LeadDefinitionFactory


@pytest.fixture
def scope(actors, system_a):
    with tenant_context(actors.tenant_a):
        yield system_a


def capture(by, **profile):
    extra = {
        k: profile.pop(k)
        for k in ("external_source", "external_id", "custom", "source")
        if k in profile
    }
    return capture_inquiry(profile=profile, **extra, by=by)


def kinds(inquiry) -> list[str]:
    return list(
        Activity.objects.filter(inquiry=inquiry).order_by("id").values_list("kind", flat=True)
    )


def test_email_is_compared_trimmed_and_case_insensitively(scope):
    first = capture(scope, email="Ann@Example.com", first_name="Ann")
    second = capture(scope, email="  ann@example.COM ", title="CTO")
    assert (first.created, second.created) == (True, False)
    assert second.inquiry.pk == first.inquiry.pk
    assert Inquiry.objects.get().title == "CTO"


def test_same_external_id_from_the_same_source_merges(scope):
    first = capture(scope, external_source="crm", external_id="42", first_name="Bo")
    second = capture(scope, external_source="crm", external_id="42", company="Acme")
    assert second.inquiry.pk == first.inquiry.pk
    assert Inquiry.objects.count() == 1


def test_same_external_id_from_another_source_is_another_person(scope):
    capture(scope, external_source="crm", external_id="42")
    capture(scope, external_source="events", external_id="42")
    assert Inquiry.objects.count() == 2


def test_same_normalised_phone_merges(scope):
    first = capture(scope, phone="+1 (555) 010-2000")
    second = capture(scope, phone="+1 555 010 2000", last_name="Lee")
    assert second.inquiry.pk == first.inquiry.pk
    assert Inquiry.objects.get().last_name == "Lee"


def test_merge_shows_on_the_timeline(scope):
    captured = capture(scope, email="c@example.com")
    capture(scope, email="c@example.com", title="VP Sales")
    assert kinds(captured.inquiry) == ["form_fill", "merged", "form_fill"]
    merged = Activity.objects.get(kind="merged")
    assert merged.details["updated_fields"] == ["title"]


def test_newest_non_empty_value_wins_and_empty_values_do_not_erase(scope):
    capture(scope, email="d@example.com", company="Old Co", title="Manager")
    capture(scope, email="d@example.com", company="New Co", title="")
    inquiry = Inquiry.objects.get()
    assert (inquiry.company, inquiry.title) == ("New Co", "Manager")


def test_company_is_grouped_by_email_domain_except_free_mail(scope):
    work = capture(scope, email="e@acme-robotics.com").inquiry
    free = capture(scope, email="f@gmail.com").inquiry
    assert (work.company_domain, free.company_domain) == ("acme-robotics.com", "")


def test_identity_is_required(scope):
    with pytest.raises(RuleViolation) as error:
        capture(scope, first_name="Nobody")
    assert error.value.field == "email"
    assert Inquiry.objects.count() == 0


def test_unusable_phone_is_refused(scope):
    with pytest.raises(RuleViolation) as error:
        capture(scope, phone="call me")
    assert error.value.field == "phone"


def test_custom_fields_are_typed_and_validated(scope):
    define_custom_field(key="fleet_size", label="Fleet size", kind="number", by=scope)
    define_custom_field(key="plan", label="Plan", kind="choice", choices=["Buy", "Lease"], by=scope)
    define_custom_field(key="has_dock", label="Has dock", kind="boolean", by=scope)
    inquiry = capture(
        scope,
        email="g@example.com",
        custom={"fleet_size": "12", "plan": "lease", "has_dock": "yes"},
    ).inquiry
    assert inquiry.custom == {"fleet_size": 12, "plan": "Lease", "has_dock": True}


@pytest.mark.parametrize(
    ("custom", "path"),
    [({"fleet_size": "many"}, "custom.fleet_size"), ({"nope": 1}, "custom.nope")],
)
def test_bad_custom_values_are_refused_and_nothing_is_written(scope, custom, path):
    define_custom_field(key="fleet_size", label="Fleet size", kind="number", by=scope)
    with pytest.raises(RuleViolation) as error:
        capture(scope, email="h@example.com", custom=custom)
    assert error.value.field == path
    assert Inquiry.objects.count() == 0


def test_capture_scores_with_the_active_version_and_its_breakdown(actors, scope):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a)
    inquiry = capture(scope, email="i@example.com", title="VP Operations", company_size=300).inquiry
    assert inquiry.definition == definition
    assert inquiry.score == sum(item["points"] for item in inquiry.score_breakdown)
    assert {"rule": "Title: VP", "kind": "fit", "points": 20} in inquiry.score_breakdown


def test_crossing_the_threshold_makes_an_mql(actors, scope):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=20)
    inquiry = capture(scope, email="j@example.com", title="VP Operations").inquiry
    assert (inquiry.stage, inquiry.behaviour_level) == ("mql", "mql")


def test_below_the_threshold_is_flagged_for_nurture(actors, scope):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=500)
    inquiry = capture(scope, email="k@example.com").inquiry
    inquiry.refresh_from_db()
    assert inquiry.stage == "nurture"


def test_an_activity_rescores_the_inquiry(actors, scope):
    LeadDefinitionFactory(tenant=actors.tenant_a)
    inquiry = capture(scope, email="l@example.com").inquiry
    before = inquiry.score
    record_activity(inquiry=inquiry, kind="webinar", by=scope)
    inquiry.refresh_from_db()
    assert inquiry.score > before


def test_retrying_the_same_response_never_duplicates(scope):
    for _ in range(3):
        capture(scope, email="m@example.com", first_name="Mo")
    assert Inquiry.objects.count() == 1
