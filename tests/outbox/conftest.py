"""Fixtures of the outbox tests: an email enqueued in tenant A, a webhook receiver."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadflow.outbox import endpoints, services, webhooks
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes, exact").decode()


def enqueue_email(key: str = "appointment:1:confirmation:pat@example.com", **overrides):
    fields = {
        "kind": "email",
        "key": key,
        "recipient": "pat@example.com",
        "payload": {"subject": "Your appointment", "text": "See you on Tuesday."},
        "cause": ("appointment", 1),
    }
    fields.update(overrides)
    return services.enqueue(**fields)


def reload(message: OutboxMessage) -> OutboxMessage:
    with tenant_context(message.tenant_id):
        return OutboxMessage.objects.get(pk=message.pk)


@pytest.fixture
def fixed_secret() -> Iterator[None]:
    """Sign every webhook with WEBHOOK_SECRET (the sender's tests, no endpoint rows)."""
    webhooks.set_secret_resolver(lambda message: WEBHOOK_SECRET)
    try:
        yield
    finally:
        endpoints.connect()


@pytest.fixture
def in_tenant_a(actors):
    with tenant_context(actors.tenant_a):
        yield actors.tenant_a


@dataclass
class Receiver:
    """A local HTTP endpoint answering ``status``; it keeps what it received."""

    url: str
    status: int = 204
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, reachable with the development setting on."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 — the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/leadflow"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PartnerSide:
    """A partner of tenant A with one user (an actor) and a contact address."""

    partner: object
    actor: object

    @property
    def principal(self):
        from leadflow.tenancy.principal import Principal

        membership = self.actor.membership
        return Principal(
            tenant=membership.tenant,
            role=membership.role,
            via="session",
            user=membership.user,
            membership=membership,
            partner=self.partner,
        )


def make_partner_side(tenant, name: str) -> PartnerSide:
    from leadflow.tenancy.models import Role
    from tests.conftest import make_actor
    from tests.factories import PartnerFactory

    partner = PartnerFactory(tenant=tenant, name=name, contact_email=f"ops@{name.lower()}.example")
    return PartnerSide(partner=partner, actor=make_actor(tenant, Role.REP, partner=partner))


@pytest.fixture
def northwind(actors) -> PartnerSide:
    return make_partner_side(actors.tenant_a, "Northwind")


@pytest.fixture
def contoso(actors) -> PartnerSide:
    return make_partner_side(actors.tenant_a, "Contoso")


def make_endpoint(side: PartnerSide, url: str, events=("lead.assigned", "lead.offered")):
    """An endpoint of ``side``'s partner (made by its user); returns (endpoint, secret)."""
    from leadflow.outbox.endpoints import services as endpoint_services

    with tenant_context(side.partner.tenant_id):
        issued = endpoint_services.create_endpoint(
            partner=side.partner, url=url, events=list(events), by=side.principal
        )
    return issued.endpoint, issued.secret
