"""Times are shown in the viewer's zone (their own, else the tenant's), with the zone named."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from leadflow.lib import times
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Partner
from tests.factories import InquiryFactory, PartnerFactory

pytestmark = pytest.mark.django_db

# 18:41 UTC is 19:41 in Berlin (CET) and 13:41 in New York (EST).
MOMENT = datetime(2026, 12, 5, 18, 41, tzinfo=UTC)


@pytest.fixture
def berlin(actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save(update_fields=["timezone"])
    return actors.tenant_a


@pytest.fixture
def suspended_partner(berlin):
    partner = PartnerFactory(tenant=berlin, name="Northwind")
    with tenant_context(berlin):
        Partner.objects.filter(pk=partner.pk).update(status="suspended", suspended_at=MOMENT)
    return partner


def page(client, user, path: str) -> str:
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_a_page_shows_a_time_in_the_tenants_zone_with_the_zone_named(
    client, actors, suspended_partner
):
    content = page(client, actors.owner.user, f"/partners/{suspended_partner.pk}/")

    assert "5 Dec 2026 19:41 CET" in content
    assert 'datetime="2026-12-05T19:41:00+01:00"' in content
    assert 'title="Europe/Berlin"' in content


def test_a_persons_own_zone_wins_over_the_tenants(client, actors, suspended_partner):
    actors.owner.user.timezone = "America/New_York"
    actors.owner.user.save(update_fields=["timezone"])

    content = page(client, actors.owner.user, f"/partners/{suspended_partner.pk}/")

    assert "5 Dec 2026 13:41 EST" in content
    assert "19:41" not in content


def test_the_admin_shows_times_in_the_viewers_zone_named(client, actors, berlin):
    with tenant_context(berlin):
        event = AuditEvent.objects.create(
            tenant=berlin,
            actor=actors.owner.user,
            actor_label=actors.owner.user.email,
            action="partner.created",
            object_type="tenancy.partner",
            object_id="1",
        )
        AuditEvent.objects.filter(pk=event.pk).update(created_at=MOMENT)

    content = page(client, actors.owner.user, "/admin/tenancy/auditevent/")

    assert "5 Dec 2026 19:41 CET" in content


def test_the_inquiry_page_shows_first_seen_in_the_viewers_zone(client, actors, berlin):
    inquiry = InquiryFactory(tenant=berlin, created_at=MOMENT)

    content = page(client, actors.teammate.user, f"/inquiries/{inquiry.pk}/")

    assert "5 Dec 2026 19:41 CET" in content


def test_the_api_keeps_answering_in_utc_whatever_the_viewers_zone(actors, suspended_partner):
    actors.owner.user.timezone = "America/New_York"
    actors.owner.user.save(update_fields=["timezone"])

    response = actors.owner.api().get(f"/api/v1/partners/{suspended_partner.pk}/")

    assert response.json()["suspended_at"] == "2026-12-05T18:41:00Z"


def test_the_inbox_csv_export_writes_iso_8601_with_the_viewers_offset(actors, berlin):
    InquiryFactory(tenant=berlin, created_at=MOMENT)
    actors.teammate.user.timezone = "America/New_York"
    actors.teammate.user.save(update_fields=["timezone"])

    response = actors.teammate.api().get("/api/v1/inquiries/export.csv")

    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["created_at"] == "2026-12-05T13:41:00-05:00"


def test_the_inbox_csv_export_is_in_the_tenants_zone_for_a_person_without_one(
    client, actors, berlin
):
    """The page's Export CSV link: a session on the API route, in the viewer's zone."""
    InquiryFactory(tenant=berlin, created_at=MOMENT)
    client.force_login(actors.teammate.user)

    response = client.get("/api/v1/inquiries/export.csv")

    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["created_at"] == "2026-12-05T19:41:00+01:00"


def test_the_shared_format_names_the_zone_for_email_too():
    """Email (sent outside a request) passes the zone it writes for."""
    assert times.shown(MOMENT, ZoneInfo("Europe/Berlin")) == "5 Dec 2026 19:41 CET"
    assert times.shown(MOMENT, ZoneInfo("Asia/Kolkata")) == "6 Dec 2026 00:11 IST"
    assert times.iso(MOMENT, ZoneInfo("Europe/Berlin")) == "2026-12-05T19:41:00+01:00"
