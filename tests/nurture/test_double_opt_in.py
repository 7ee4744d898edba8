"""Double opt-in for public-form captures: pending, one confirmation email, a signed link."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from nurture import links
from nurture.models import ConsentEvent, ContactConsent, NurtureSettings
from nurture.selectors import may_email
from tests.nurture.conftest import dispatch, move, person, to_nurture

pytestmark = pytest.mark.django_db


def public_form_person(**fields):
    return person(
        source="web_form", consent="opted_in", email="dana@example.com", first_name="Dana", **fields
    )


def confirmations():
    return OutboxMessage.objects.filter(kind="nurture_confirm")


@pytest.fixture
def double_opt_in(in_a):
    NurtureSettings.objects.create(
        double_opt_in=True, from_name="Acme Marketing", from_address="news@acme.example"
    )


def link_in(body: str) -> str:
    match = re.search(r"https?://\S+/c/(\S+)/", body)
    assert match, body
    return match.group(1)


def test_off_by_default_a_public_form_opt_in_counts_at_once(
    in_a, system_a, django_capture_on_commit_callbacks
):
    inquiry = public_form_person()
    to_nurture([inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks)
    assert not ContactConsent.objects.filter(inquiry=inquiry).exists()
    assert not confirmations().exists()


def test_on_a_public_form_opt_in_is_pending_with_one_email_and_a_history_row(
    double_opt_in, system_a, django_capture_on_commit_callbacks
):
    inquiry = public_form_person()
    other_source = person(source="api", consent="opted_in", email="eli@example.com")
    to_nurture(
        [inquiry.pk, other_source.pk], system_a, run_hooks=django_capture_on_commit_callbacks
    )
    row = ContactConsent.objects.get(inquiry=inquiry)
    assert row.status == "pending"
    assert ConsentEvent.objects.get(inquiry=inquiry).status == "pending"
    assert not ContactConsent.objects.filter(inquiry=other_source).exists()
    # Out of nurture and back: still the one email.
    move([inquiry.pk], "mql", system_a, run_hooks=django_capture_on_commit_callbacks)
    to_nurture([inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks)
    message = confirmations().get()
    assert message.key == f"nurture:confirm:{row.pk}"
    assert message.payload == {"consent": row.pk}
    assert message.recipient == "dana@example.com"


def test_pending_is_never_mailed_in_either_mode():
    for mode in ("opt_in", "opt_out"):
        assert not may_email(status="pending", suppressed=False, mode=mode)
        assert may_email(status="opted_in", suppressed=False, mode=mode)


def test_the_link_confirms_on_post_only_and_the_email_holds_no_id_or_secret(
    actors, double_opt_in, system_a, django_capture_on_commit_callbacks
):
    inquiry = public_form_person()
    to_nurture([inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks)
    mail.outbox.clear()
    dispatch()
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    text = email.subject + email.body + str(email.extra_headers)
    assert "Acme Marketing" in email.subject
    assert settings.SECRET_KEY not in text
    assert "tenant_id" not in text and f"/{actors.tenant_a.pk}/" not in text
    token = link_in(email.body)
    # The link carries the tenant's public slug and the contact's random token, nothing else.
    assert links.read_token(token, salt=links.CONFIRM_SALT) == links.Unsigned(
        tenant_slug=actors.tenant_a.slug,
        contact_token=ContactConsent.objects.get(inquiry=inquiry).token,
    )
    contact = Client()
    page = contact.get(f"/c/{token}/")
    assert page.status_code == 200 and b'data-testid="confirm-button"' in page.content
    assert ContactConsent.objects.get(inquiry=inquiry).status == "pending"  # GET changes nothing
    done = contact.post(f"/c/{token}/")
    assert done.status_code == 200 and b'data-testid="confirm-done"' in done.content
    with tenant_context(actors.tenant_a):
        assert ContactConsent.objects.get(inquiry=inquiry).status == "opted_in"
        event = ConsentEvent.objects.filter(inquiry=inquiry).first()
        assert event.status == "opted_in" and event.source == "double_opt_in"
        assert event.text_shown == "Yes, send me occasional useful emails."
        assert event.recorded_at is not None
    # Answered: the page says so; a second POST records nothing more.
    assert b'data-testid="confirm-answered"' in contact.get(f"/c/{token}/").content
    contact.post(f"/c/{token}/")
    with tenant_context(actors.tenant_a):
        assert ConsentEvent.objects.filter(inquiry=inquiry, source="double_opt_in").count() == 1


def test_a_tampered_or_unsubscribe_link_is_refused(
    actors, double_opt_in, system_a, django_capture_on_commit_callbacks
):
    inquiry = public_form_person()
    to_nurture([inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks)
    row = ContactConsent.objects.get(inquiry=inquiry)
    good = links.confirm_token(tenant_slug=actors.tenant_a.slug, contact_token=row.token)
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    unsubscribe = links.unsubscribe_token(tenant_slug=actors.tenant_a.slug, contact_token=row.token)
    other_tenant = links.confirm_token(tenant_slug="tenant-b", contact_token=row.token)
    contact = Client()
    for token in (tampered, unsubscribe, other_tenant):
        assert contact.get(f"/c/{token}/").status_code == 404
        assert contact.post(f"/c/{token}/").status_code == 404
    with tenant_context(actors.tenant_a):
        assert ContactConsent.objects.get(inquiry=inquiry).status == "pending"


def test_the_confirmation_is_not_sent_once_answered(
    actors, double_opt_in, system_a, django_capture_on_commit_callbacks
):
    from nurture.services.consent import confirm

    inquiry = public_form_person()
    to_nurture([inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks)
    confirm(consent=ContactConsent.objects.get(inquiry=inquiry))
    mail.outbox.clear()
    dispatch()
    assert mail.outbox == []


def test_the_setting_on_the_page_and_in_the_api(actors, in_a):
    api = actors.owner.api()
    assert api.get("/api/v1/nurture/settings/").json()["double_opt_in"] is False
    response = api.patch("/api/v1/nurture/settings/", {"double_opt_in": True}, format="json")
    assert response.status_code == 200 and response.json()["double_opt_in"] is True
    assert NurtureSettings.objects.get().double_opt_in
    assert (
        api.patch(
            "/api/v1/nurture/settings/", {"double_opt_in": "maybe"}, format="json"
        ).status_code
        == 400
    )
    client = Client()
    client.force_login(actors.owner.user)
    assert b'name="double_opt_in"' in client.get("/nurture/settings/").content


def test_no_nurture_email_until_confirmed_even_in_opt_out_mode(
    open_window, system_a, django_capture_on_commit_callbacks
):
    import time_machine

    from nurture.services import scheduler
    from tests.nurture.conftest import two_step_program

    config = NurtureSettings.objects.get()
    config.double_opt_in = True
    config.save(update_fields=["double_opt_in"])
    with time_machine.travel(datetime(2026, 6, 1, 10, 0, tzinfo=UTC), tick=False):
        two_step_program(system_a)
        inquiry = public_form_person()
        to_nurture([inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks)
        result = scheduler.run_due_steps()
    assert ContactConsent.objects.get(inquiry=inquiry).status == "pending"
    assert result.emails == 0 and result.skipped == 1
    assert not OutboxMessage.objects.filter(kind="nurture_email").exists()
    assert confirmations().count() == 1
