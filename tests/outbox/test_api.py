"""API: GET /api/v1/outbox/failed/ and POST /api/v1/outbox/<id>/retry/ (admins)."""

from __future__ import annotations

import pytest

from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.tenancy.context import tenant_context
from tests.outbox.conftest import enqueue_email, reload


def failed_message(tenant, key: str = "appointment:1:confirmation:pat@example.com"):
    with tenant_context(tenant):
        message = enqueue_email(key=key)
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=OutboxState.FAILED,
            failed_at=message.created_at,
            attempts=1,
            last_error="the mail server answered 550: no such user",
        )
        return reload(message)


def test_admin_lists_failed_messages_with_their_reason(actors):
    message = failed_message(actors.tenant_a)
    with tenant_context(actors.tenant_a):
        enqueue_email(key="still-pending")
    response = actors.owner.api().get("/api/v1/outbox/failed/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == message.pk
    assert row["last_error"] == "the mail server answered 550: no such user"
    assert (row["cause_type"], row["cause_id"]) == ("appointment", "1")


def test_the_list_shows_none_of_another_tenants_failed_messages(actors):
    failed_message(actors.tenant_a)
    assert actors.outsider.api().get("/api/v1/outbox/failed/").json()["results"] == []


def test_a_marketer_may_not_list_failed_messages(actors):
    assert actors.teammate.api().get("/api/v1/outbox/failed/").status_code == 403


def test_admin_retries_a_failed_message(actors):
    message = failed_message(actors.tenant_a)
    response = actors.owner.api().post(f"/api/v1/outbox/{message.pk}/retry/")
    assert response.status_code == 200
    assert response.json()["state"] == "pending"
    assert reload(message).state == OutboxState.PENDING


def test_retrying_another_tenants_message_is_404(actors):
    message = failed_message(actors.tenant_a)
    assert actors.outsider.api().post(f"/api/v1/outbox/{message.pk}/retry/").status_code == 404
    assert reload(message).state == OutboxState.FAILED


def test_retrying_a_message_that_did_not_fail_is_409(actors):
    with tenant_context(actors.tenant_a):
        message = enqueue_email()
    response = actors.owner.api().post(f"/api/v1/outbox/{message.pk}/retry/")
    assert response.status_code == 409
    assert "state" in response.json()["errors"]


def test_a_marketer_may_not_retry(actors):
    message = failed_message(actors.tenant_a)
    assert actors.teammate.api().post(f"/api/v1/outbox/{message.pk}/retry/").status_code == 403
    assert reload(message).state == OutboxState.FAILED


@pytest.mark.parametrize("rows", [1, 8])
def test_failed_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, rows):
    for n in range(rows):
        failed_message(actors.tenant_a, key=f"k{n}")
    api = actors.owner.api()
    api.get("/api/v1/me/")
    # the caller and its scope, then the count and the page: the same for 1 row and 8
    with django_assert_num_queries(4):
        api.get("/api/v1/outbox/failed/")
