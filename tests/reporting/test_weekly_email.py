"""The Monday report's emails: managers get every line, owners their own; HTML, chart, CSV."""

import csv
import io

import pytest
import time_machine

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from reporting.weekly.tasks import generate_weekly_report_of_tenant
from tests.reporting.weekly_data import berlin, build


@pytest.fixture
def data(actors):
    return build(actors)


def messages(tenant):
    with tenant_context(tenant):
        return {
            m.recipient: m
            for m in OutboxMessage.objects.filter(key__startswith="weekly-report:2026-W53:")
        }


def rows(message):
    [attachment] = message.payload["attachments"]
    assert attachment["mimetype"] == "text/csv"
    assert attachment["filename"] == "weekly-report-2026-W53.csv"
    return list(csv.DictReader(io.StringIO(attachment["content"])))


def test_the_beat_task_emails_managers_the_table_chart_and_csv_once(actors, data):
    with time_machine.travel(berlin(2027, 1, 4, 8, 5), tick=False):
        assert generate_weekly_report_of_tenant.apply(kwargs={"tenant_id": data.tenant.pk}).get()
        assert not generate_weekly_report_of_tenant.apply(
            kwargs={"tenant_id": data.tenant.pk}
        ).get()
    sent = messages(data.tenant)
    manager = sent[data.manager.user.email]
    assert sent[actors.owner.user.email]  # the admin is a manager too
    assert actors.teammate.user.email not in sent  # a marketer gets nothing
    html = manager.payload["html"]
    assert "<svg" in html and "Riley Rep" in html and "Sam Seller" in html
    assert "1000.00" in html
    table = rows(manager)
    assert [r["name"] for r in table] == [
        "Everyone",
        "North",
        "Riley Rep",
        "Sam Seller",
        "Northwind",
    ]
    everyone = table[0]
    assert (everyone["won"], everyone["won_value"], everyone["lost_by_reason"]) == (
        "1",
        "1000.00",
        "no budget: 2",
    )
    assert everyone["missing_update_leads"] == str(data.leads["missing"].pk)
    assert manager.key == f"weekly-report:2026-W53:user:{data.manager.user.pk}"


def test_each_owner_gets_only_their_own_line(data):
    with time_machine.travel(berlin(2027, 1, 4, 9), tick=False):
        generate_weekly_report_of_tenant.apply(kwargs={"tenant_id": data.tenant.pk}).get()
    sent = messages(data.tenant)
    riley = sent[data.riley.user.email]
    assert [r["name"] for r in rows(riley)] == ["Riley Rep"]
    assert "Sam Seller" not in riley.payload["html"]
    assert "Sam Seller" not in riley.payload["text"]
    partner = sent["nw@partner.test"]
    assert [r["name"] for r in rows(partner)] == ["Northwind"]
    assert "Riley Rep" not in partner.payload["html"]
