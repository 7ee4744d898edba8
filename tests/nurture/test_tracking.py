"""Tracked links: click → activity → score → MQL → exit → the qualifiers' queue; opens; tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail, signing
from django.test import Client

from inquiries.models import Activity, Stage
from inquiries.selectors.desk import unassigned_mql_queue
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from nurture import links
from nurture.models import Enrollment, NurtureSend, NurtureSettings
from nurture.services import scheduler, tracking
from tests.factories import LeadDefinitionFactory
from tests.nurture.conftest import active, dispatch, nurture_inquiry, two_step_program

pytestmark = pytest.mark.django_db

PRICING = "https://acme.example/pricing?plan=team"
BODY = (
    "Hi {{ first_name }}, see our prices: "
    + PRICING
    + ".\nOr the guide https://acme.example/guide.pdf"
)
# One click is worth 60 points; 50 qualify; no fit points (so the person starts below).
CLICK_RULES = {
    "fit_rules": [],
    "engagement_rules": [
        {
            "activity": "email_click",
            "points": 60,
            "cap": 120,
            "half_life_days": 30,
            "label": "Email clicks",
        }
    ],
    "mql_threshold": 50,
}


@pytest.fixture(autouse=True)
def https_site(settings):
    settings.SITE_URL = "https://leadflow.example"


@pytest.fixture
def sent(actors, open_window, system_a, django_capture_on_commit_callbacks):
    """One nurture email with two links, sent through the scheduler and the outbox (locmem)."""
    LeadDefinitionFactory(tenant=actors.tenant_a, **CLICK_RULES)
    # Now (the window is always open): a link lives CLICK_MAX_AGE_DAYS from its sending.
    two_step_program(
        system_a,
        steps=[
            {"kind": "email", "subject": "Prices, {{ first_name }}", "body": BODY},
            {"kind": "wait", "wait_days": 3},
            {"kind": "email", "subject": "Still there?", "body": "A second note."},
        ],
    )
    inquiry = nurture_inquiry(
        system_a, run_hooks=django_capture_on_commit_callbacks, first_name="Dana"
    )
    scheduler.run_due_steps()
    dispatch()
    assert len(mail.outbox) == 1, OutboxMessage.objects.values_list("state", "last_error")
    return inquiry, mail.outbox[0]


def hrefs(email) -> list[str]:
    html = email.alternatives[0].content
    return re.findall(r'href="(https://leadflow\.example/r/[^"]+)"', html)


def path_of(url: str) -> str:
    return url.removeprefix("https://leadflow.example")


def click(url: str, run_hooks):
    """A reader's (or a scanner's) GET: no cookie, no session."""
    with run_hooks(execute=True):
        return Client().get(path_of(url))


def test_a_click_in_the_sent_email_scores_promotes_exits_and_reaches_the_queue(
    sent, django_capture_on_commit_callbacks
):
    inquiry, email = sent
    inquiry.refresh_from_db()
    assert inquiry.stage == Stage.NURTURE
    assert active(inquiry.pk).exists()
    assert inquiry not in unassigned_mql_queue()

    pricing = hrefs(email)[0]
    response = click(pricing, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == PRICING
    activity = Activity.objects.get(inquiry=inquiry)
    assert activity.kind == "email_click"
    assert activity.details["url"] == PRICING
    assert activity.details["step"] == 0
    inquiry.refresh_from_db()
    assert inquiry.score == 60
    assert inquiry.stage == Stage.MQL
    enrollment = Enrollment.objects.get(inquiry_id=inquiry.pk)
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "became_mql")
    assert list(unassigned_mql_queue()) == [inquiry]
    assert NurtureSend.objects.get(kind="email").clicked_at is not None


def test_both_parts_carry_the_tracked_link_and_the_html_shows_the_real_address(sent):
    _inquiry, email = sent
    tracked = hrefs(email)
    assert len(tracked) == 2
    for url in tracked:
        assert url in email.body
    html = email.alternatives[0].content
    assert f">{PRICING.replace('&', '&amp;')}</a>" in html
    # The target is not readable as a plain address in the link (it is compressed and signed).
    assert "acme.example/pricing" not in tracked[0]
    # The sentence's full stop stays outside the link.
    assert links.read_tracked(path_of(tracked[0]).split("/")[2], salt=links.CLICK_SALT).url == (
        PRICING
    )


def test_a_content_download_link_redirects_to_the_file(sent, django_capture_on_commit_callbacks):
    _inquiry, email = sent
    response = click(hrefs(email)[1], django_capture_on_commit_callbacks)
    assert response["Location"] == "https://acme.example/guide.pdf"
    assert Activity.objects.get().details["url"] == "https://acme.example/guide.pdf"


def test_a_scanner_fetching_the_same_link_twice_is_scored_once(
    sent, django_capture_on_commit_callbacks
):
    inquiry, email = sent
    url = hrefs(email)[0]
    first = click(url, django_capture_on_commit_callbacks)
    second = click(url, django_capture_on_commit_callbacks)
    assert (first.status_code, second.status_code) == (302, 302)
    assert Activity.objects.filter(inquiry=inquiry).count() == 1
    inquiry.refresh_from_db()
    assert inquiry.engagement_score == 60


def test_the_same_link_after_the_window_counts_again(sent, django_capture_on_commit_callbacks):
    inquiry, email = sent
    url = hrefs(email)[0]
    click(url, django_capture_on_commit_callbacks)
    with time_machine.travel(datetime.now(UTC) + tracking.DUPLICATE_WINDOW + timedelta(minutes=1)):
        click(url, django_capture_on_commit_callbacks)
    assert Activity.objects.filter(inquiry=inquiry).count() == 2


def test_another_link_of_the_same_email_is_another_click(sent, django_capture_on_commit_callbacks):
    inquiry, email = sent
    for url in hrefs(email):
        click(url, django_capture_on_commit_callbacks)
    assert Activity.objects.filter(inquiry=inquiry).count() == 2


def test_a_tampered_token_is_a_404_and_no_redirect(sent, django_capture_on_commit_callbacks):
    inquiry, email = sent
    url = hrefs(email)[0]
    token = path_of(url).split("/")[2]
    changed = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = click(f"/r/{changed}/", django_capture_on_commit_callbacks)
    assert response.status_code == 404
    assert "Location" not in response
    assert not Activity.objects.filter(inquiry=inquiry).exists()


def test_a_token_signed_for_another_address_or_salt_is_refused(sent):
    _inquiry, email = sent
    token = path_of(hrefs(email)[0]).split("/")[2]
    # An unsubscribe token (other salt) or an open token is no click token.
    assert links.read_tracked(token, salt=links.OPEN_SALT) is None
    assert (
        Client()
        .get(f"/r/{links.unsubscribe_token(tenant_slug='tenant-a', contact_token='x')}/")
        .status_code
        == 404
    )


def test_a_link_past_its_lifetime_is_a_404(sent, django_capture_on_commit_callbacks):
    inquiry, email = sent
    url = hrefs(email)[0]
    later = datetime.now(UTC) + timedelta(days=links.CLICK_MAX_AGE_DAYS + 1)
    with time_machine.travel(later):
        response = click(url, django_capture_on_commit_callbacks)
    assert response.status_code == 404
    assert not Activity.objects.filter(inquiry=inquiry).exists()


def test_a_token_naming_another_tenants_send_is_a_404(
    actors, sent, django_capture_on_commit_callbacks
):
    inquiry, _email = sent
    send = NurtureSend.objects.get(kind="email")
    # Signed with the secret key (as if forged by LeadFlow itself) but for tenant B's slug:
    # tenant B has no such send under its row-level security.
    token = links.click_token(
        tenant_slug=actors.tenant_b.slug,
        enrollment_id=send.enrollment_id,
        step_id=send.step_id,
        url=PRICING,
    )
    response = click(links.click_url(token), django_capture_on_commit_callbacks)
    assert response.status_code == 404
    assert "Location" not in response
    assert not Activity.objects.filter(inquiry=inquiry).exists()
    with tenant_context(actors.tenant_b):
        assert not Activity.objects.exists()


def test_a_token_with_a_non_web_target_is_refused():
    token = links.click_token(
        tenant_slug="tenant-a", enrollment_id=1, step_id=1, url="javascript:alert(1)"
    )
    assert links.read_tracked(token, salt=links.CLICK_SALT) is None
    forged = signing.TimestampSigner(salt="other").sign_object(["tenant-a", 1, 1, PRICING])
    assert links.read_tracked(forged, salt=links.CLICK_SALT) is None


def test_no_open_pixel_by_default(sent):
    _inquiry, email = sent
    html = email.alternatives[0].content
    assert "/o/" not in html
    assert "<img" not in html


def test_with_open_tracking_on_the_pixel_notes_the_first_open_without_scoring(
    actors, open_window, system_a, django_capture_on_commit_callbacks
):
    LeadDefinitionFactory(tenant=actors.tenant_a, **CLICK_RULES)
    NurtureSettings.objects.update(track_opens=True)
    two_step_program(system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    scheduler.run_due_steps()
    dispatch()
    html = mail.outbox[0].alternatives[0].content
    pixel = re.search(r'<img src="https://leadflow\.example(/o/[^"]+\.gif)"', html).group(1)
    response = Client().get(pixel)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert NurtureSend.objects.get(kind="email", step__position=0).opened_at is not None
    assert not Activity.objects.filter(inquiry=inquiry).exists()
    inquiry.refresh_from_db()
    assert inquiry.stage == Stage.NURTURE


def test_a_tampered_pixel_is_a_404():
    assert Client().get("/o/abc:def.gif").status_code == 404


def test_the_email_carries_no_tenant_id_secret_or_outbox_key(actors, sent):
    _inquiry, email = sent
    raw = email.message().as_bytes().decode()
    message = OutboxMessage.objects.get()
    assert message.key not in raw
    assert "nurture:" not in raw
    assert django_settings.SECRET_KEY not in raw
    for url in hrefs(email):
        read = links.read_tracked(path_of(url).split("/")[2], salt=links.CLICK_SALT)
        assert read.tenant_slug == "tenant-a"
        assert str(actors.tenant_a.pk) not in (read.tenant_slug,)
    assert f"tenant_id={actors.tenant_a.pk}" not in raw


def test_settings_api_turns_open_tracking_on(actors, in_a):
    client = actors.owner.api()
    assert client.get("/api/v1/nurture/settings/").json()["track_opens"] is False
    response = client.patch("/api/v1/nurture/settings/", {"track_opens": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["track_opens"] is True
    response = client.patch("/api/v1/nurture/settings/", {"track_opens": "maybe"}, format="json")
    assert response.status_code == 400
    assert "track_opens" in str(response.json())
    assert NurtureSettings.objects.get().track_opens is True


def test_the_last_email_of_a_program_is_sent_though_the_program_finished(
    open_window, system_a, django_capture_on_commit_callbacks
):
    # Found by bench/nurture_chaos.py: the run that queues a program's last email also
    # finishes the program, and the sender used to refuse the email then.
    two_step_program(
        system_a, steps=[{"kind": "email", "subject": "Only one", "body": "Just this."}]
    )
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    assert scheduler.run_due_steps().finished == 1
    dispatch()
    assert [m.subject for m in mail.outbox] == ["Only one"]
    assert mail.outbox[0].to == [inquiry.email]
    assert OutboxMessage.objects.get(key__startswith="nurture:").state == "sent"


def test_an_email_queued_before_the_person_became_an_mql_is_not_sent(
    open_window, system_a, django_capture_on_commit_callbacks
):
    two_step_program(system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    scheduler.run_due_steps()
    from tests.nurture.conftest import move

    move([inquiry.pk], Stage.MQL, system_a, run_hooks=django_capture_on_commit_callbacks)
    dispatch()
    assert mail.outbox == []
    assert "left the program" in OutboxMessage.objects.get().last_error


def test_the_settings_page_turns_open_tracking_on(actors, in_a):
    from tests.nurture.test_pages import browser

    client = browser(actors.owner)
    page = client.get("/nurture/settings/")
    assert b"Track opens" in page.content
    form = {
        "consent_mode": "opt_in",
        "cap_emails": 2,
        "cap_days": 7,
        "window_start": "08:00",
        "window_end": "18:00",
        "throttle_per_minute": 60,
        "track_opens": "on",
    }
    assert client.post("/nurture/settings/", form).status_code == 302
    assert NurtureSettings.objects.get().track_opens is True
    assert client.post("/nurture/settings/", {**form, "track_opens": ""}).status_code == 302
    assert NurtureSettings.objects.get().track_opens is False


def test_the_bodys_unsubscribe_link_is_the_contacts_own_and_never_tracked(
    actors, open_window, system_a, django_capture_on_commit_callbacks
):
    two_step_program(
        system_a,
        steps=[
            {
                "kind": "email",
                "subject": "Hello",
                "body": "See " + PRICING + "\nNot for you? {{ unsubscribe_url }}",
            },
        ],
    )
    nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    scheduler.run_due_steps()
    dispatch()
    email = mail.outbox[0]
    header = email.extra_headers["List-Unsubscribe"].split(",")[0].strip("<> ")
    body_line = email.body.split("Not for you? ")[1].splitlines()[0]
    assert body_line == header
    assert "/u/" in body_line
    # Only the pricing link goes through the tracked redirect.
    assert len(hrefs(email)) == 1
