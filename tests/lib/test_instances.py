"""``leadflow.lib.instances.loaded``: stored instances from values, the rest deferred."""

from leadflow.lib.instances import loaded
from leadflow.tenancy.context import tenant_context
from leads.models import Lead
from tests.factories import LeadFactory


def test_a_loaded_instance_has_its_values_and_counts_as_stored(actors):
    lead = LeadFactory(tenant=actors.tenant_a, stage="accepted")
    made = loaded(Lead, ["id", "tenant_id", "stage"], [lead.pk, actors.tenant_a.pk, "accepted"])
    assert (made.pk, made.stage, str(made)) == (lead.pk, "accepted", str(lead))
    assert made._state.adding is False
    assert made.get_deferred_fields() >= {"reported_weeks", "assigned_at"}


def test_a_field_not_given_is_read_from_the_database_on_access(actors, django_assert_num_queries):
    lead = LeadFactory(tenant=actors.tenant_a, stage="accepted", need="A new fleet")
    made = loaded(Lead, ["id", "tenant_id"], [lead.pk, actors.tenant_a.pk])
    with tenant_context(actors.tenant_a), django_assert_num_queries(1):
        assert made.need == "A new fleet"
