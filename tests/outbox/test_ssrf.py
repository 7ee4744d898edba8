"""SSRF: a webhook only reaches public https addresses, checked when it is sent."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from leadflow.outbox import services, ssrf
from leadflow.outbox.models import OutboxState, WebhookAttempt, WebhookEndpoint
from tests.outbox.conftest import make_endpoint, reload


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_a_non_public_address_is_refused(address, kind):
    assert kind in ssrf.forbidden_reason(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_a_public_address_is_allowed(address):
    assert ssrf.forbidden_reason(ipaddress.ip_address(address)) is None


def test_the_development_setting_allows_loopback_only():
    assert ssrf.forbidden_reason(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert ssrf.forbidden_reason(ipaddress.ip_address("::1"), allow_loopback=True) is None
    assert ssrf.forbidden_reason(ipaddress.ip_address("10.0.0.1"), allow_loopback=True)


def test_only_https_is_allowed():
    with pytest.raises(ssrf.Refused, match="https"):
        ssrf.check_url("http://crm.example/hooks")
    assert ssrf.check_url("http://crm.example/h", allow_private=True)[0] == "http"


def test_credentials_in_the_url_are_refused():
    with pytest.raises(ssrf.Refused, match="password"):
        ssrf.check_url("https://user:pw@crm.example/hooks")


def fake_dns(monkeypatch, answer: str):
    family = socket.AF_INET6 if ":" in answer else socket.AF_INET

    def getaddrinfo(host, port, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, 6, "", (answer, port))]

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", getaddrinfo)


def test_a_dns_name_resolving_to_a_private_address_is_refused(monkeypatch):
    fake_dns(monkeypatch, "10.0.0.7")
    with pytest.raises(ssrf.Refused, match="private"):
        ssrf.resolve_checked("internal.crm.example", 443)


def test_a_dns_name_resolving_to_ipv6_loopback_is_refused(monkeypatch):
    fake_dns(monkeypatch, "::1")
    with pytest.raises(ssrf.Refused, match="loopback"):
        ssrf.resolve_checked("sneaky.example", 443)


def test_a_dns_name_resolving_publicly_is_allowed(monkeypatch):
    fake_dns(monkeypatch, "93.184.216.34")
    assert ssrf.resolve_checked("crm.example", 443) == "93.184.216.34"


def _send_to(side, url):
    from django.db import transaction

    from leadflow.outbox.endpoints import services as endpoint_services

    endpoint, _ = make_endpoint(side, url)
    with transaction.atomic():
        [delivery] = endpoint_services.publish(side.partner, "lead.assigned", {}, "k")
    services.dispatch_due()
    return endpoint, delivery


def test_a_private_target_is_refused_at_send_time_and_logged(in_tenant_a, northwind, monkeypatch):
    fake_dns(monkeypatch, "192.168.0.10")
    _endpoint, delivery = _send_to(northwind, "https://crm.northwind.example/hooks")
    message = reload(delivery.message)
    assert message.state == OutboxState.FAILED
    assert "private" in message.last_error
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.response_status is None
    assert "refused" in attempt.error


def test_loopback_is_refused_without_the_development_setting(
    in_tenant_a, northwind, receiver, settings
):
    endpoint, _ = make_endpoint(northwind, receiver.url)
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        url=receiver.url.replace("http://", "https://")
    )
    from django.db import transaction

    from leadflow.outbox.endpoints import services as endpoint_services

    with transaction.atomic():
        [delivery] = endpoint_services.publish(northwind.partner, "lead.assigned", {}, "k")
    services.dispatch_due()
    assert "loopback" in reload(delivery.message).last_error
    assert receiver.requests == []


def test_a_redirect_is_not_followed(in_tenant_a, northwind, receiver):
    receiver.status = 302
    receiver.headers = {"Location": receiver.url + "/elsewhere"}
    _endpoint, delivery = _send_to(northwind, receiver.url)
    assert len(receiver.requests) == 1
    message = reload(delivery.message)
    assert message.state == OutboxState.PENDING
    assert "redirects are not followed" in message.last_error


def test_the_response_read_is_capped(receiver, settings):
    receiver.status = 200
    receiver.body = b"y" * 200_000
    answer = ssrf.post(
        receiver.url,
        body=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=5,
        connect_timeout=2,
        max_bytes=1000,
        allow_private=True,
    )
    assert answer.status == 200
    assert answer.body == b"y" * 1000


def test_a_receiver_that_never_answers_times_out(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        with pytest.raises(OSError):
            ssrf.post(
                f"http://127.0.0.1:{port}/",
                body=b"{}",
                headers={},
                timeout=0.5,
                connect_timeout=0.5,
                max_bytes=100,
                allow_private=True,
            )
    finally:
        listener.close()


def test_a_dns_name_resolving_to_an_ipv4_mapped_private_address_is_refused(monkeypatch):
    fake_dns(monkeypatch, "::ffff:192.168.1.20")
    with pytest.raises(ssrf.Refused, match="private"):
        ssrf.resolve_checked("mapped.example", 443)


def test_an_http_url_saved_in_development_is_refused_once_the_setting_is_off(
    in_tenant_a, northwind, receiver, settings
):
    from django.db import transaction

    from leadflow.outbox.endpoints import services as endpoint_services

    make_endpoint(northwind, receiver.url)
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with transaction.atomic():
        [delivery] = endpoint_services.publish(northwind.partner, "lead.assigned", {}, "k")
    services.dispatch_due()
    message = reload(delivery.message)
    assert message.state == OutboxState.FAILED
    assert "only https" in message.last_error
    assert receiver.requests == []
