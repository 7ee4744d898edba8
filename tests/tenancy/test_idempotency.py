"""Idempotency-Key: one write per key, replayed answers, conflicts and mismatches."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import ApiKey, IdempotencyRecord, Partner, Role
from tests.conftest import make_actor, transactional_databases
from tests.factories import TenantFactory

BODY = {"name": "Contoso", "kind": "var"}


def post(actor, body=BODY, key="key-1"):
    return actor.api().post("/api/v1/partners/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def partners(tenant) -> list[str]:
    with tenant_context(tenant):
        return list(Partner.objects.values_list("name", flat=True))


def test_replay_returns_the_first_response_and_writes_nothing_more(actors):
    first = post(actors.owner)
    second = post(actors.owner)
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert second["Idempotent-Replayed"] == "true"
    assert partners(actors.tenant_a) == ["Contoso"]


def test_replay_keeps_an_error_status(actors):
    first = post(actors.owner, body={"name": "", "kind": "var"})
    second = post(actors.owner, body={"name": "", "kind": "var"})
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()


def test_same_key_with_another_body_is_422(actors):
    post(actors.owner)
    response = post(actors.owner, body={"name": "Other", "kind": "var"})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert partners(actors.tenant_a) == ["Contoso"]


def test_retry_while_the_first_is_running_is_409(actors):
    post(actors.owner)
    with tenant_context(actors.tenant_a):
        IdempotencyRecord.objects.update(state="in_progress", locked_at=timezone.now())
    response = post(actors.owner)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"


def test_a_claim_abandoned_past_the_lock_timeout_runs_again(actors):
    post(actors.owner)
    with tenant_context(actors.tenant_a):
        Partner.objects.all().delete()
        IdempotencyRecord.objects.update(
            state="in_progress", locked_at=timezone.now() - timedelta(minutes=5)
        )
    assert post(actors.owner).status_code == 201
    assert partners(actors.tenant_a) == ["Contoso"]


def test_a_key_older_than_its_time_to_live_is_fresh_again(actors):
    post(actors.owner)
    with tenant_context(actors.tenant_a):
        IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = post(actors.owner, body={"name": "Later", "kind": "agent"})
    assert response.status_code == 201
    assert sorted(partners(actors.tenant_a)) == ["Contoso", "Later"]


def test_another_callers_same_key_is_not_replayed(actors):
    post(actors.owner)
    colleague = make_actor(actors.tenant_a, Role.ADMIN)
    response = post(colleague)
    assert "Idempotent-Replayed" not in response
    assert response.status_code == 400  # it ran: the name is taken now


def test_another_tenants_same_key_is_not_replayed(actors):
    first = post(actors.owner)
    response = post(actors.outsider)
    assert response.status_code == 201
    assert response.json()["id"] != first.json()["id"]
    assert partners(actors.tenant_b) == ["Contoso"]


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "ünïcode"])
def test_malformed_key_is_a_400(actors, key):
    response = actors.owner.api().post(
        "/api/v1/partners/",
        BODY,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1"),
    )
    assert response.status_code == 400
    assert partners(actors.tenant_a) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_concurrent_requests_with_one_key_write_exactly_once():
    tenant = TenantFactory(slug="race")
    actor = make_actor(tenant, Role.ADMIN)
    start = threading.Barrier(8)
    statuses: list[int] = []

    def worker():
        try:
            start.wait()
            # Issuing a key has no natural uniqueness: only the Idempotency-Key
            # stops eight concurrent requests from making eight keys.
            response = actor.api().post(
                "/api/v1/api-keys/",
                {"name": "race", "role": "marketer"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="race-key",
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with tenant_context(tenant):
        assert ApiKey.objects.filter(name="race").count() == 1
    assert len(statuses) == 8
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}


def test_a_refused_request_is_not_stored_so_a_retry_runs(actors):
    response = post(actors.teammate)  # marketers may not create partners
    assert response.status_code == 403
    with tenant_context(actors.tenant_a):
        assert not IdempotencyRecord.objects.exists()


def test_claiming_a_fresh_key_is_one_statement(actors, django_assert_num_queries):
    from leadflow.tenancy.services import claim_idempotency_key

    principal = actors.owner.principal
    with tenant_context(actors.tenant_a), django_assert_num_queries(1):
        claim = claim_idempotency_key(key="fresh", request_fingerprint="f" * 64, by=principal)
    assert claim.outcome == "run"
    with tenant_context(actors.tenant_a):
        stored = IdempotencyRecord.objects.get(pk=claim.record.pk)
    assert (stored.key, stored.state) == ("fresh", "in_progress")


def test_claiming_a_held_key_again_reads_it_and_says_in_progress(actors):
    from leadflow.tenancy.services import claim_idempotency_key

    principal = actors.owner.principal
    with tenant_context(actors.tenant_a):
        claim_idempotency_key(key="held", request_fingerprint="f" * 64, by=principal)
        again = claim_idempotency_key(key="held", request_fingerprint="f" * 64, by=principal)
    assert again.outcome == "in_progress"
