"""In the browser: a reader clicks a link in a delivered (file-backend) nurture email; the
inquiry becomes an MQL, as its page then shows. Screenshots at 1,280 and 390 px; axe-core."""

from __future__ import annotations

import email
import re
from datetime import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from inquiries.models import Stage
from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from nurture.models import Enrollment, NurtureSettings
from nurture.services import programs, scheduler
from tests.browser.conftest import DESKTOP
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.browser.test_tokens_browser import both_widths
from tests.conftest import make_actor, transactional_databases, wait_until
from tests.factories import InquiryFactory, LeadDefinitionFactory, TenantFactory
from tests.nurture.test_tracking import CLICK_RULES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def delivered_html(folder: Path) -> str:
    """The HTML part of the one email the file backend wrote."""
    (path,) = list(folder.iterdir())
    raw = path.read_bytes().split(b"\n" + b"-" * 79)[0]
    message = email.message_from_bytes(raw)
    (html,) = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return html.get_payload(decode=True).decode()


def test_a_clicked_link_in_a_delivered_email_makes_the_inquiry_an_mql(
    live_server, page, browser, screenshot, csp_errors, worker, settings, tmp_path
):
    folder = tmp_path / "mail"
    folder.mkdir()
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    settings.SITE_URL = live_server.url
    tenant = TenantFactory(slug="nurture-click", name="Acme Robotics")
    marketer = make_actor(tenant, Role.MARKETER, user__full_name="Marco Reyes")
    system = Principal.system(tenant, "tests")
    LeadDefinitionFactory(tenant=tenant, **CLICK_RULES)
    inquiry = InquiryFactory(
        tenant=tenant, first_name="Dana", last_name="Okafor", company="Freight Co", stage="mql"
    )
    with tenant_context(tenant):
        NurtureSettings.objects.create(
            consent_mode="opt_out", window_start=time(0), window_end=time(0), cap_emails=5
        )
        programs.create_program(
            name="Pricing follow-up",
            steps=[
                {
                    "kind": "email",
                    "subject": "Prices, {{ first_name }}",
                    "body": f"Hi {{{{ first_name }}}}, our prices: {live_server.url}/login/",
                },
                {"kind": "wait", "wait_days": 7},
            ],
            by=system,
        )
        stages.move_many("inquiry", [inquiry.pk], Stage.NURTURE, by=system, reason="score 10")
        assert wait_until(
            lambda: Enrollment.objects.filter(inquiry_id=inquiry.pk).exists(), seconds=10
        )
        # The scheduler's run commits its outbox message and kicks the worker, which sends it.
        assert scheduler.run_due_steps().emails == 1
    assert wait_until(lambda: any(folder.iterdir()), seconds=30)
    link = re.search(r'href="([^"]+/r/[^"]+/)"', delivered_html(folder)).group(1)
    assert link.startswith(f"{live_server.url}/r/")

    # The reader's browser: no session; the tracked link lands on the address in the email.
    page.goto(link)
    assert page.url == f"{live_server.url}/login/"

    with tenant_context(tenant):
        inquiry.refresh_from_db()
        assert inquiry.stage == Stage.MQL
        assert Enrollment.objects.get(inquiry_id=inquiry.pk).exit_reason == "became_mql"
    log_in(page, live_server, marketer.user.email)
    page.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")
    expect(page.get_by_test_id("inquiry-stage")).to_have_text("MQL")
    expect(page.get_by_text("Email click").first).to_be_visible()
    both_widths(page, screenshot, "nurture-click-mql")
    assert csp_errors == []

    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        tab = context.new_page()
        log_in(tab, live_server, marketer.user.email)
        tab.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")
        assert serious_violations(tab) == []
    finally:
        context.close()
