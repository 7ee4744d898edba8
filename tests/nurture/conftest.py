"""Fixtures of the nurture tests: tenant A selected, a program, helpers to move and run."""

from __future__ import annotations

import pytest
from django.core import mail

from inquiries.models import Stage
from leadflow.lib import stages
from leadflow.outbox import services as outbox_services
from leadflow.tenancy.context import require_tenant_id, tenant_context
from leadflow.tenancy.models import Tenant
from nurture.models import Enrollment, EnrollmentState, NurtureSettings
from nurture.services import programs
from tests.factories import InquiryFactory


@pytest.fixture
def in_a(actors):
    with tenant_context(actors.tenant_a):
        yield actors.tenant_a


@pytest.fixture
def open_window(in_a):
    """Opt-out mode, always-open window, a cap of 5: the sending tests' defaults."""
    NurtureSettings.objects.create(
        consent_mode="opt_out",
        window_start="00:00",
        window_end="00:00",
        cap_emails=5,
        from_name="Acme Marketing",
        from_address="news@acme.example",
        postal_address="Acme Inc., 1 Main St, Springfield",
    )


def to_nurture(ids, by, *, run_hooks, reason="score below threshold"):
    """Move inquiries to nurture through the mover and run the after-commit hooks."""
    with run_hooks(execute=True):
        stages.move_many("inquiry", ids, Stage.NURTURE, by=by, reason=reason)


def move(ids, stage, by, *, run_hooks):
    with run_hooks(execute=True):
        stages.move_many("inquiry", ids, stage, by=by, reason="test")


def active(inquiry_id):
    return Enrollment.objects.filter(inquiry_id=inquiry_id, state=EnrollmentState.ACTIVE)


def person(**fields):
    """An inquiry of the selected tenant (the factory's default would make a new tenant)."""
    fields.setdefault("stage", Stage.MQL)
    return InquiryFactory(tenant=Tenant.objects.get(pk=require_tenant_id()), **fields)


def nurture_inquiry(by, *, run_hooks, **fields):
    inquiry = person(**fields)
    to_nurture([inquiry.pk], by, run_hooks=run_hooks)
    return inquiry


def dispatch():
    """Send what the outbox has due (the dispatcher the worker runs)."""
    return outbox_services.dispatch_due(limit=100)


def two_step_program(by, **kwargs):
    return programs.create_program(
        name=kwargs.pop("name", "Welcome series"),
        steps=kwargs.pop(
            "steps",
            [
                {
                    "kind": "email",
                    "subject": "Hello {{ first_name }}",
                    "body": "Hi {{ first_name }} at {{ company }}.",
                },
                {"kind": "wait", "wait_days": 3},
                {"kind": "email", "subject": "Still there?", "body": "A second note."},
            ],
        ),
        by=by,
        **kwargs,
    )


__all__ = ["mail"]
