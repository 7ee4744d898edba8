"""``/partner/keys/``: a partner's users list, create and revoke their own partner's API keys."""

import pytest

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import ApiKey, Role
from leadflow.tenancy.principal import Principal
from tests.conftest import make_actor
from tests.factories import PartnerFactory

URL = "/partner/keys/"


@pytest.fixture
def partners(actors):
    return (
        PartnerFactory(tenant=actors.tenant_a, name="Northwind"),
        PartnerFactory(tenant=actors.tenant_a, name="Contoso"),
    )


@pytest.fixture
def nora(actors, partners):
    return make_actor(actors.tenant_a, Role.REP, partner=partners[0], user__full_name="Nora L")


def as_(client, actor):
    client.force_login(actor.user)
    return client


def key_of(tenant, partner, name):
    with tenant_context(tenant):
        return services.issue_api_key(
            name=name, partner=partner, by=Principal.system(tenant, "tests")
        ).credential


def test_the_page_lists_only_the_own_partners_keys(client, actors, partners, nora):
    key_of(actors.tenant_a, partners[0], "CRM sync")
    key_of(actors.tenant_a, partners[1], "Contoso ERP")
    page = as_(client, nora).get(URL).content.decode()
    assert "CRM sync" in page and "Contoso ERP" not in page


def test_creating_a_key_shows_it_once_and_stores_only_its_digest(client, actors, partners, nora):
    response = as_(client, nora).post(URL, {"name": "ERP"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret in response.content.decode()
    with tenant_context(actors.tenant_a):
        key = ApiKey.objects.get(name="ERP")
    assert key.partner_id == partners[0].pk and key.created_by_id == nora.user.pk
    assert secret not in client.get(URL).content.decode()


def test_a_key_without_a_name_is_refused_and_nothing_is_written(client, actors, nora):
    response = as_(client, nora).post(URL, {"name": ""})
    assert response.status_code == 400 and "field-error" in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert not ApiKey.objects.exists()


def test_revoking_an_own_key_stops_it(client, actors, partners, nora):
    key = key_of(actors.tenant_a, partners[0], "CRM sync")
    response = as_(client, nora).post(f"{URL}{key.pk}/revoke/")
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_revoking_another_partners_key_is_a_404(client, actors, partners, nora):
    theirs = key_of(actors.tenant_a, partners[1], "Contoso ERP")
    assert as_(client, nora).post(f"{URL}{theirs.pk}/revoke/").status_code == 404
    with tenant_context(actors.tenant_a):
        assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_revoking_another_tenants_key_is_a_404(client, actors, nora):
    other = PartnerFactory(tenant=actors.tenant_b)
    theirs = key_of(actors.tenant_b, other, "B key")
    assert as_(client, nora).post(f"{URL}{theirs.pk}/revoke/").status_code == 404
    with tenant_context(actors.tenant_b):
        assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_members_who_are_not_partner_users_may_not_open_it(client, actors):
    assert as_(client, actors.owner).get(URL).status_code == 403


def test_the_empty_state_names_the_partner(client, nora):
    page = as_(client, nora).get(URL).content.decode()
    assert 'data-testid="no-keys"' in page and "Northwind has no API keys yet" in page
