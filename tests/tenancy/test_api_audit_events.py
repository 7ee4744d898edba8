import pytest

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context


@pytest.fixture
def audited(actors, system_a):
    with tenant_context(actors.tenant_a):
        return services.create_partner(name="Audited", kind="agent", by=system_a)


def test_admin_reads_the_audit_trail_newest_first(actors, audited):
    results = actors.owner.api().get("/api/v1/audit-events/").json()["results"]
    assert results[0]["action"] == "partner.created"
    assert results[0]["after"] == {"name": "Audited", "kind": "agent"}


def test_outsider_sees_none_of_another_tenants_events(actors, audited):
    actions = [
        e["action"] for e in actors.outsider.api().get("/api/v1/audit-events/").json()["results"]
    ]
    assert "partner.created" not in actions


def test_event_of_another_tenant_is_404(actors, audited):
    event_id = actors.owner.api().get("/api/v1/audit-events/").json()["results"][0]["id"]
    assert actors.outsider.api().get(f"/api/v1/audit-events/{event_id}/").status_code == 404


def test_marketer_may_not_read_the_audit_trail(actors):
    assert actors.teammate.api().get("/api/v1/audit-events/").status_code == 403


@pytest.mark.parametrize("rows", [1, 8])
def test_audit_list_query_count_does_not_grow_with_rows(
    actors, system_a, django_assert_num_queries, rows
):
    with tenant_context(actors.tenant_a):
        for n in range(rows):
            services.create_partner(name=f"P{n}", kind="var", by=system_a)
    api = actors.owner.api()
    api.get("/api/v1/me/")
    with django_assert_num_queries(4):
        api.get("/api/v1/audit-events/")
