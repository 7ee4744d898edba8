"""Fixtures of the outbox tests: an email enqueued in tenant A, a webhook receiver."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadflow.outbox import services, webhooks
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
def in_tenant_a(actors):
    with tenant_context(actors.tenant_a):
        yield actors.tenant_a


@dataclass
class Receiver:
    """A local HTTP endpoint answering ``status``; it keeps what it received."""

    url: str
    status: int = 204
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 — the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/leadflow"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    webhooks.set_secret_resolver(lambda message: WEBHOOK_SECRET)
    try:
        yield state
    finally:
        webhooks.set_secret_resolver(None)
        server.shutdown()
        server.server_close()
