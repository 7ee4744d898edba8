"""The one base class for tenant API views: scoped querysets, principal, 404 for others' rows."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import TenantOwnedModel
from leadflow.tenancy.principal import Principal


class TenantViewSet(viewsets.GenericViewSet):
    """Subclasses say which rows with ``scoped_queryset()``; they may not override ``get_queryset``.

    Whatever ``scoped_queryset`` returns is filtered by the current tenant once
    more here, so a selector that forgot its scope still cannot serve another
    tenant's row: the lookup misses and the caller gets 404.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} overrides get_queryset(); define scoped_queryset() instead"
            )

    model: type[TenantOwnedModel]

    def scoped_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            # The OpenAPI generator inspects the model with no tenant selected.
            return self.model.dangerously_all_tenants.none()
        return self.scoped_queryset().filter(tenant_id=require_tenant_id())

    @property
    def principal(self) -> Principal:
        return self.request.auth
