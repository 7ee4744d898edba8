"""Shared plumbing of the administration commands: tenant lookup and rule errors."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.management.base import CommandError

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Tenant


def tenant_by_slug(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug.strip().lower()).first()
    if tenant is None:
        raise CommandError(f"Unknown tenant {slug!r}. See `python manage.py tenants list`.")
    return tenant


@contextmanager
def rule_errors_as_command_errors():
    try:
        yield
    except RuleViolation as exc:
        raise CommandError(f"{exc.field}: {exc.message}") from None
