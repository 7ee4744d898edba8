import uuid

import pytest

from leadflow.tenancy.throttling import CallerRateThrottle

pytestmark = pytest.mark.redis


@pytest.fixture
def three_per_minute(monkeypatch):
    monkeypatch.setattr(CallerRateThrottle, "THROTTLE_RATES", {"caller": "3/min"})
    # Ids can repeat between tests (rolled back), so each test counts in its own namespace.
    monkeypatch.setattr(
        CallerRateThrottle, "cache_format", f"throttle_{uuid.uuid4().hex}_%(scope)s_%(ident)s"
    )


def test_a_caller_past_its_rate_gets_429(actors, three_per_minute):
    api = actors.owner.api()
    statuses = [api.get("/api/v1/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert api.get("/api/v1/me/").json()["code"] == "throttled"


def test_each_caller_has_its_own_budget(actors, three_per_minute):
    for _ in range(3):
        actors.owner.api().get("/api/v1/me/")
    assert actors.teammate.api().get("/api/v1/me/").status_code == 200
