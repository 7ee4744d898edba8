"""The failed-messages page: admins only, the reason, the time in the viewer's zone, "retry"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.tenancy.context import tenant_context
from tests.outbox.conftest import reload
from tests.outbox.test_api import failed_message


def login(client, actor):
    client.force_login(actor.user)
    return client


def test_admin_sees_failed_messages_with_their_reason(client, actors):
    failed_message(actors.tenant_a)
    content = login(client, actors.owner).get("/outbox/failed/").content.decode()
    assert "the mail server answered 550: no such user" in content
    assert "pat@example.com" in content
    assert "Retry" in content


def test_the_page_has_an_empty_state(client, actors):
    response = login(client, actors.owner).get("/outbox/failed/")
    assert 'data-testid="no-failed-messages"' in response.content.decode()


def test_the_failure_time_is_shown_in_the_viewers_time_zone(client, actors):
    message = failed_message(actors.tenant_a)
    with tenant_context(actors.tenant_a):
        OutboxMessage.objects.filter(pk=message.pk).update(
            failed_at=datetime(2026, 12, 5, 18, 41, tzinfo=UTC)
        )
    actors.owner.user.timezone = "Europe/Berlin"
    actors.owner.user.save(update_fields=["timezone"])
    content = login(client, actors.owner).get("/outbox/failed/").content.decode()
    assert 'datetime="2026-12-05T19:41:00+01:00"' in content


def test_a_marketer_may_not_see_the_page(client, actors):
    assert login(client, actors.teammate).get("/outbox/failed/").status_code == 403


def test_the_admins_menu_links_the_page(client, actors):
    content = login(client, actors.owner).get("/").content.decode()
    assert 'href="/outbox/failed/"' in content


def test_a_marketers_menu_does_not_link_the_page(client, actors):
    content = login(client, actors.teammate).get("/").content.decode()
    assert 'href="/outbox/failed/"' not in content


def test_retry_puts_the_message_back_in_line(client, actors):
    message = failed_message(actors.tenant_a)
    response = login(client, actors.owner).post(f"/outbox/{message.pk}/retry/", follow=True)
    assert "will be sent again" in response.content.decode()
    assert reload(message).state == OutboxState.PENDING


def test_retrying_another_tenants_message_is_404(client, actors):
    message = failed_message(actors.tenant_a)
    assert login(client, actors.outsider).post(f"/outbox/{message.pk}/retry/").status_code == 404
    assert reload(message).state == OutboxState.FAILED


def test_retrying_a_message_that_did_not_fail_says_why(client, actors):
    message = failed_message(actors.tenant_a)
    login(client, actors.owner).post(f"/outbox/{message.pk}/retry/")
    response = client.post(f"/outbox/{message.pk}/retry/", follow=True)
    assert "Only a failed message can be retried" in response.content.decode()


@pytest.mark.parametrize("rows", [1, 12])
def test_page_query_count_does_not_grow_with_rows(client, actors, django_assert_num_queries, rows):
    for n in range(rows):
        failed_message(actors.tenant_a, key=f"k{n}")
    login(client, actors.owner).get("/outbox/failed/")
    # session, user, memberships; count, page
    with django_assert_num_queries(5):
        client.get("/outbox/failed/")


def test_the_admins_start_page_counts_failed_messages(client, actors):
    failed_message(actors.tenant_a)
    content = login(client, actors.owner).get("/").content.decode()
    assert "Failed messages" in content
    assert 'href="/outbox/failed/"' in content


def test_a_marketers_start_page_has_no_outbox_tile(client, actors):
    failed_message(actors.tenant_a)
    content = login(client, actors.teammate).get("/").content.decode()
    assert "Failed messages" not in content
