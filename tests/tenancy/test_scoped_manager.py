import pytest

from leadflow.tenancy.context import NoTenantSelected, tenant_context
from leadflow.tenancy.models import CrossTenantWrite, Partner
from tests.factories import PartnerFactory


def test_scoped_manager_raises_without_a_tenant(actors):
    with pytest.raises(NoTenantSelected):
        list(Partner.objects.all())


def test_scoped_manager_returns_only_the_current_tenants_rows(actors):
    mine = PartnerFactory(tenant=actors.tenant_a)
    PartnerFactory(tenant=actors.tenant_b)
    with tenant_context(actors.tenant_a):
        assert list(Partner.objects.all()) == [mine]


def test_saving_a_row_of_another_tenant_is_refused(actors):
    theirs = PartnerFactory(tenant=actors.tenant_b)
    theirs.name = "Hijacked"
    with tenant_context(actors.tenant_a), pytest.raises(CrossTenantWrite):
        theirs.save()


def test_new_rows_take_the_current_tenant(actors):
    with tenant_context(actors.tenant_a):
        partner = Partner.objects.create(name="Auto", kind="var")
    assert partner.tenant_id == actors.tenant_a.pk


def test_tenant_context_is_reset_after_the_block(actors):
    with tenant_context(actors.tenant_a):
        pass
    with pytest.raises(NoTenantSelected):
        Partner.objects.count()
