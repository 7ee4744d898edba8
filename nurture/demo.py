"""The demo's nurture: one running program with 1-minute waits, so `make run` shows mail.

Called by ``seed_demo`` per demo tenant after the marketing demo. The sender
settings carry a postal address; the send window is always open and the mode
is opt-out, so the demo's inquiries (captured without a consent answer) are
mailed; five people in nurture are enrolled by hand. The beat's every-minute
run turns their steps into emails in ``var/mail/`` within a few minutes; their
links go through the tracked redirect, so opening one from a mail file records a
click on the person's timeline and rescores them.
Idempotent: a tenant that has the program keeps it as it is.
"""

from __future__ import annotations

from datetime import time

from django.db import transaction

from inquiries.models import Inquiry, Stage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal
from nurture.models import NurtureProgram, NurtureSettings
from nurture.services import enrollment, programs

DEMO_PROGRAM = "Welcome series (demo: 1-minute waits)"
DEMO_STEPS = [
    {
        "kind": "email",
        "subject": "{{ first_name }}, three ideas for {{ company }}",
        "body": "Hello {{ first_name }},\n\nThank you for your interest. Here are three ways "
        "teams like {{ company }} get started: https://example.com/getting-started\n\n"
        "Best regards,\n{{ sender_name }}\n\nNot for you? Unsubscribe: {{ unsubscribe_url }}",
    },
    {"kind": "wait", "wait_minutes": 1},
    {
        "kind": "email",
        "subject": "A customer story you may like",
        "body": "Hello {{ first_name }},\n\nHow a company like {{ company }} cut its lead "
        "response time in half: https://example.com/customer-story\n\nReply if you would "
        "like to talk.\n\n{{ sender_name }}\n\nUnsubscribe: {{ unsubscribe_url }}",
    },
    {"kind": "wait", "wait_minutes": 1},
    {"kind": "task", "subject": "Call to ask about timing"},
]


def seed_demo_nurture(*, tenant: Tenant) -> int:
    """The demo program and its first people; returns how many were enrolled (0: kept)."""
    by = Principal.system(tenant, "demo")
    with tenant_context(tenant), transaction.atomic():
        programs.long_term_program()
        seed_builder_program(by=by)
        if NurtureProgram.objects.filter(name=DEMO_PROGRAM).exists():
            return 0
        NurtureSettings.objects.get_or_create(
            defaults={
                "from_name": f"{tenant.name} Marketing",
                "from_address": f"news@{tenant.slug}.example",
                "reply_to": f"sales@{tenant.slug}.example",
                "postal_address": f"{tenant.name}, 100 Harbour Street, Springfield",
                "consent_mode": "opt_out",
                "window_start": time(0),
                "window_end": time(0),
                "throttle_per_minute": 200,
            }
        )
        program = programs.create_program(
            name=DEMO_PROGRAM,
            description="Two emails a minute apart, then a call task: the demo's running program.",
            steps=DEMO_STEPS,
            audience={"reason": ["by_hand"]},
            position=1,
            by=by,
        )
        people = list(
            Inquiry.objects.filter(stage=Stage.NURTURE)
            .exclude(email="")
            .order_by("pk")
            .values_list("pk", flat=True)[:5]
        )
        if not people:
            return 0
        return len(enrollment.enroll_by_hand(inquiry_ids=people, program=program, by=by).enrolled)


# The builder's demo (issue 20): a program as a marketer would build it, with a branch.
BUILDER_PROGRAM = "Webinar follow-up"
BUILDER_STEPS = [
    {
        "kind": "email",
        "subject": "{{ first_name }}, your webinar recording",
        "body": "Hello {{ first_name }},\n\nThank you for joining the webinar. The recording "
        "and the slides are here: https://example.com/webinar\n\nBest regards,\n"
        "{{ sender_name }}\n\nNot interested? Unsubscribe: {{ unsubscribe_url }}",
    },
    {"kind": "wait", "wait_days": 2},
    # Clicked the recording within three days: straight to a call; the others get one more email.
    {"kind": "branch", "wait_days": 3, "branch_to": 5},
    {
        "kind": "email",
        "subject": "Three questions teams like {{ company }} ask us",
        "body": "Hello {{ first_name }},\n\nAfter the webinar most teams ask about pricing, "
        "set-up time and integrations. The answers are short: reply and we will send them.\n\n"
        "{{ sender_name }}\n\nUnsubscribe: {{ unsubscribe_url }}",
    },
    {"kind": "wait", "wait_days": 7},
    {"kind": "task", "subject": "Call about the webinar: ask what they need"},
]


def seed_builder_program(*, by: Principal) -> None:
    """The builder's demo program (webinar sign-ups), made through the builder's validation."""
    from nurture.services import builder

    if NurtureProgram.objects.filter(name=BUILDER_PROGRAM).exists():
        return
    builder.create_program(
        name=BUILDER_PROGRAM,
        description="A recording, a reminder for who did not click, and a call for who did.",
        steps=BUILDER_STEPS,
        audience={"source": ["webinar"]},
        position=2,
        by=by,
    )
