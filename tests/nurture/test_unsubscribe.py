"""Unsubscribing: the one-click POST without a session, the confirmation page, tampered links."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.test import Client

from nurture.models import ConsentEvent, ContactConsent, Enrollment
from nurture.services import scheduler
from tests.nurture.conftest import active, dispatch, nurture_inquiry, two_step_program

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def sent(open_window, system_a, django_capture_on_commit_callbacks, settings):
    settings.SITE_URL = "https://leadflow.example"
    with time_machine.travel(START, tick=False):
        two_step_program(system_a)
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        scheduler.run_due_steps()
        dispatch()
    header = str(mail.outbox[0].message()["List-Unsubscribe"])
    url = re.match(r"<https://leadflow\.example(/u/[^>]+/)>", header).group(1)
    return inquiry, url


def stranger() -> Client:
    """A mail provider's one-click request: no cookie, no session, CSRF checks on."""
    return Client(enforce_csrf_checks=True)


def test_the_one_click_post_unsubscribes_at_once_without_a_session(sent):
    inquiry, url = sent
    response = stranger().post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert ContactConsent.objects.get(inquiry=inquiry).status == "opted_out"
    assert not active(inquiry.pk).exists()
    assert Enrollment.objects.get(inquiry_id=inquiry.pk).exit_reason == "unsubscribed"
    event = ConsentEvent.objects.get(inquiry=inquiry)
    assert (event.source, event.status) == ("unsubscribe", "opted_out")
    # Nothing more is sent: the next run finds nobody to mail.
    with time_machine.travel(START.replace(day=10), tick=False):
        assert scheduler.run_due_steps().emails == 0


def test_the_visible_link_opens_a_confirmation_page_and_a_get_never_unsubscribes(sent):
    inquiry, url = sent
    for _ in range(3):  # link scanners follow links more than once
        response = stranger().get(url)
        assert response.status_code == 200
        assert b"Unsubscribe from Acme Marketing?" in response.content
    assert ContactConsent.objects.get(inquiry=inquiry).status != "opted_out"
    assert active(inquiry.pk).exists()
    response = stranger().post(url)
    assert b"You are unsubscribed" in response.content
    assert ContactConsent.objects.get(inquiry=inquiry).status == "opted_out"


@pytest.mark.parametrize(
    "change",
    [
        lambda url: url[:-3] + ("A" if url[-3] != "A" else "B") + url[-2:],  # the signature
        lambda url: url.replace("/u/tenant-a", "/u/tenant-b"),  # another tenant
        lambda url: "/u/tenant-a.made-up-token/",  # unsigned
    ],
)
def test_a_tampered_link_is_refused_and_changes_nothing(sent, change):
    inquiry, url = sent
    tampered = change(url)
    assert tampered != url
    assert stranger().get(tampered).status_code == 404
    assert stranger().post(tampered).status_code == 404
    assert ContactConsent.objects.get(inquiry=inquiry).status != "opted_out"
    assert active(inquiry.pk).exists()
