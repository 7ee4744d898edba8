import pytest

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Partner
from tests.factories import PartnerFactory


@pytest.fixture
def partner_a(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind", kind="dealer")


def partner_count(tenant) -> int:
    with tenant_context(tenant):
        return Partner.objects.count()


def test_admin_lists_partners_with_a_count(actors, partner_a):
    body = actors.owner.api().get("/api/v1/partners/").json()
    assert body["count"] == 1
    assert body["results"][0]["name"] == "Northwind"


def test_admin_creates_a_partner_and_the_change_is_audited(actors):
    response = actors.owner.api().post(
        "/api/v1/partners/", {"name": "Contoso", "kind": "var"}, format="json"
    )
    assert response.status_code == 201
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="partner.created")
    assert (event.actor, event.object_id) == (actors.owner.user, str(response.json()["id"]))


def test_duplicate_partner_name_is_a_400_that_writes_nothing(actors, partner_a):
    response = actors.owner.api().post(
        "/api/v1/partners/", {"name": "northwind", "kind": "var"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["name"]
    assert partner_count(actors.tenant_a) == 1


def test_same_partner_name_in_another_tenant_is_allowed(actors, partner_a):
    response = actors.outsider.api().post(
        "/api/v1/partners/", {"name": "Northwind", "kind": "var"}, format="json"
    )
    assert response.status_code == 201


def test_unknown_kind_is_a_400_with_field_errors(actors):
    response = actors.owner.api().post(
        "/api/v1/partners/", {"name": "X", "kind": "wholesaler"}, format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]
    assert partner_count(actors.tenant_a) == 0


def test_marketer_may_not_list_partners(actors, partner_a):
    assert actors.teammate.api().get("/api/v1/partners/").status_code == 403


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", "suspend/"), ("post", "reactivate/")]
)
def test_partner_of_another_tenant_is_404(actors, partner_a, method, suffix):
    response = getattr(actors.outsider.api(), method)(f"/api/v1/partners/{partner_a.pk}/{suffix}")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}


def test_suspend_then_reactivate(actors, partner_a):
    api = actors.owner.api()
    assert api.post(f"/api/v1/partners/{partner_a.pk}/suspend/").json()["status"] == "suspended"
    assert api.post(f"/api/v1/partners/{partner_a.pk}/reactivate/").json()["status"] == "active"


def test_suspending_twice_is_a_409(actors, partner_a):
    api = actors.owner.api()
    api.post(f"/api/v1/partners/{partner_a.pk}/suspend/")
    response = api.post(f"/api/v1/partners/{partner_a.pk}/suspend/")
    assert response.status_code == 409
    assert response.json()["code"] == "unchanged"


@pytest.mark.parametrize("rows", [1, 12])
def test_partner_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, rows):
    for _ in range(rows):
        PartnerFactory(tenant=actors.tenant_a)
    api = actors.owner.api()
    # credential (with its tenant), membership, last-used stamp, count, page
    with django_assert_num_queries(5):
        assert api.get("/api/v1/partners/").json()["count"] == rows
