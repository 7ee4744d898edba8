"""A token's and key's last use is recorded, at most once per interval, never per request."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import UserToken
from leadflow.tenancy.principal import Principal

pytestmark = pytest.mark.django_db

START = timezone.now().replace(microsecond=0)


def own_token(actor) -> UserToken:
    with tenant_context(actor.tenant):
        return UserToken.objects.get(user=actor.user)


def updates_of_tokens(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith('UPDATE "tenancy_usertoken"')]


def test_using_a_token_records_when_it_was_last_used(actors):
    with time_machine.travel(START, tick=False):
        actors.teammate.api().get("/api/v1/me/")

    assert own_token(actors.teammate).last_used_at == START


def test_a_second_request_within_the_interval_writes_nothing(actors):
    with time_machine.travel(START, tick=False):
        actors.teammate.api().get("/api/v1/me/")
    with (
        time_machine.travel(START + timedelta(minutes=4), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        actors.teammate.api().get("/api/v1/me/")

    assert updates_of_tokens(queries.captured_queries) == []
    assert own_token(actors.teammate).last_used_at == START


def test_a_request_after_the_interval_records_the_new_time(actors):
    with time_machine.travel(START, tick=False):
        actors.teammate.api().get("/api/v1/me/")
    later = START + services.LAST_USED_RESOLUTION + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        actors.teammate.api().get("/api/v1/me/")

    assert own_token(actors.teammate).last_used_at == later


def test_a_concurrent_request_that_read_the_old_time_does_not_write_again(actors):
    """Two requests read the token before either stamped it: only the first one writes."""
    token = own_token(actors.teammate)  # read with last_used_at still empty
    principal = Principal(
        tenant=actors.tenant_a,
        role="marketer",
        via="user_token",
        user=actors.teammate.user,
        user_token=token,
        membership=actors.teammate.membership,
    )
    with tenant_context(actors.tenant_a):
        with time_machine.travel(START, tick=False):
            services.mark_credential_used(principal=principal)
        with time_machine.travel(START + timedelta(seconds=30), tick=False):
            services.mark_credential_used(principal=principal)

    assert own_token(actors.teammate).last_used_at == START
