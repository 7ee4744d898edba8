"""Browser pages through the Django test client: login, switcher, partners, admin."""

import pytest

from leadflow.tenancy.middleware import SESSION_TENANT_KEY
from leadflow.tenancy.models import Role
from tests.factories import MembershipFactory, PartnerFactory


@pytest.fixture
def partner_a(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


@pytest.fixture
def owner_client(client, actors):
    client.force_login(actors.owner.user)
    return client


@pytest.fixture
def outsider_client(client, actors):
    client.force_login(actors.outsider.user)
    return client


def test_login_page_is_served(db, client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_login_with_email_and_password_opens_home(actors, client):
    response = client.post(
        "/login/",
        {"username": actors.owner.user.email, "password": "correct horse battery staple"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Tenant A" in response.content


def test_wrong_password_is_refused_with_a_message(actors, client):
    response = client.post("/login/", {"username": actors.owner.user.email, "password": "nope"})
    assert response.status_code == 200
    assert (
        b"correct email" in response.content.lower()
        or b"enter a correct" in response.content.lower()
    )
    assert "_auth_user_id" not in client.session


def test_anonymous_home_redirects_to_login(db, client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_home_shows_the_members_tenant_and_role(owner_client):
    response = owner_client.get("/")
    assert b"Tenant A" in response.content
    assert b"Admin" in response.content


def test_switching_to_a_tenant_of_ones_own_changes_the_tenant(actors, client):
    MembershipFactory(tenant=actors.tenant_b, user=actors.owner.user, role=Role.MANAGER)
    client.force_login(actors.owner.user)
    response = client.post("/tenant/switch/", {"tenant": actors.tenant_b.pk}, follow=True)
    assert client.session[SESSION_TENANT_KEY] == actors.tenant_b.pk
    assert b"Tenant B" in response.content


def test_switching_to_a_tenant_one_is_not_in_is_404(actors, owner_client):
    response = owner_client.post("/tenant/switch/", {"tenant": actors.tenant_b.pk})
    assert response.status_code == 404
    assert SESSION_TENANT_KEY not in owner_client.session


def test_logout_ends_the_session(owner_client):
    response = owner_client.post("/logout/")
    assert response.status_code == 302
    assert owner_client.get("/").status_code == 302


def test_partner_list_shows_the_tenants_partners(owner_client, partner_a):
    assert b"Northwind" in owner_client.get("/partners/").content


def test_partner_list_has_an_empty_state(owner_client):
    assert b"No channel partners yet" in owner_client.get("/partners/").content


def test_marketer_may_not_open_partners(actors, client):
    client.force_login(actors.teammate.user)
    assert client.get("/partners/").status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/partners/{pk}/"),
        ("post", "/partners/{pk}/suspend/"),
        ("post", "/partners/{pk}/reactivate/"),
        ("get", "/admin/tenancy/partner/{pk}/change/"),
    ],
)
def test_partner_pages_of_another_tenant_are_404(outsider_client, partner_a, method, path):
    response = getattr(outsider_client, method)(path.format(pk=partner_a.pk))
    assert response.status_code == 404


@pytest.mark.parametrize("model", ["membership", "apikey", "auditevent"])
def test_admin_pages_of_another_tenants_rows_are_404(actors, outsider_client, model):
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import ApiKey, AuditEvent, Membership
    from leadflow.tenancy.principal import Principal

    with tenant_context(actors.tenant_a):
        services.issue_api_key(
            name="k", role="marketer", by=Principal.system(actors.tenant_a, "tests")
        )
        pk = {"membership": Membership, "apikey": ApiKey, "auditevent": AuditEvent}[
            model
        ].objects.values_list("pk", flat=True)[0]
    response = outsider_client.get(f"/admin/tenancy/{model}/{pk}/change/")
    assert response.status_code == 404


def test_admin_suspends_a_partner_from_its_page(owner_client, partner_a):
    response = owner_client.post(f"/partners/{partner_a.pk}/suspend/", follow=True)
    assert b"is now suspended" in response.content


def test_tenant_admin_sees_only_their_partners_in_django_admin(owner_client, actors, partner_a):
    PartnerFactory(tenant=actors.tenant_b, name="Elsewhere")
    response = owner_client.get("/admin/tenancy/partner/")
    assert b"Northwind" in response.content
    assert b"Elsewhere" not in response.content


def test_non_admin_is_kept_out_of_django_admin(actors, client):
    client.force_login(actors.teammate.user)
    response = client.get("/admin/")
    assert response.status_code == 302


def test_api_docs_and_schema_are_served(owner_client):
    assert owner_client.get("/api/docs/").status_code == 200
    schema = owner_client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/partners/" in schema.content


@pytest.mark.parametrize("rows", [1, 15])
def test_partner_page_query_count_does_not_grow_with_rows(
    owner_client, actors, django_assert_num_queries, rows
):
    for _ in range(rows):
        PartnerFactory(tenant=actors.tenant_a)
    owner_client.get("/partners/")
    # session, user, memberships, count, page
    with django_assert_num_queries(5):
        owner_client.get("/partners/")


def test_switching_to_a_suspended_partners_membership_is_404(actors, client, system_a):
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context

    partner = PartnerFactory(tenant=actors.tenant_b)
    MembershipFactory(
        tenant=actors.tenant_b, user=actors.owner.user, role=Role.REP, partner=partner
    )
    with tenant_context(actors.tenant_b):
        from leadflow.tenancy.principal import Principal

        services.suspend_partner(partner=partner, by=Principal.system(actors.tenant_b, "tests"))
    client.force_login(actors.owner.user)
    assert client.post("/tenant/switch/", {"tenant": actors.tenant_b.pk}).status_code == 404
