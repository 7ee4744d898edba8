"""Posting to a URL a partner typed, without letting it reach inside our network (SSRF).

At send time, not only when the URL is saved (a DNS name can change its
answer): only ``https``; the host resolved once and every address checked —
private, loopback, link-local, multicast, reserved, unspecified or any other
non-global address is refused, IPv4 and IPv6 alike, and an IPv4-mapped IPv6
address is judged by its IPv4 address; the connection then goes to the
checked address (no second lookup an attacker could answer differently),
with TLS verified against the host name. No redirect is followed (an answer
is an answer), the connect timeout is short and at most ``max_bytes`` of the
response are read.

``allow_private`` (the setting ``WEBHOOKS_ALLOW_PRIVATE_TARGETS``, for
development only) also allows ``http`` and loopback addresses, so a
developer can point a partner at a receiver on their own machine.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL or the address it resolves to may not be called."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    duration_ms: int


def forbidden_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why ``address`` may not be called, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    for kind, flag in (
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
    ):
        if flag:
            return kind
    if not address.is_global:
        return "a non-public address"
    return None


def check_url(url: str, *, allow_private: bool = False) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of a URL we may post to, else :class:`Refused`."""
    parts = urlsplit(url)
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise Refused("only https URLs receive webhooks")
    if parts.username or parts.password:
        raise Refused("a webhook URL may not carry a user name or password")
    host = parts.hostname
    if not host:
        raise Refused("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("the URL's port is not a number") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, host, port, path


def resolve_checked(host: str, port: int, *, allow_private: bool = False) -> str:
    """The address to connect to: every address ``host`` resolves to must be public."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as error:
            raise Refused(f"the host {host} could not be resolved: {error}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise Refused(f"the host {host} resolves to no address")
    for address in addresses:
        reason = forbidden_reason(address, allow_loopback=allow_private)
        if reason:
            raise Refused(f"{host} resolves to {reason} ({address}), which is refused")
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the host name would resolve to now."""

    def __init__(self, host: str, port: int, *, address: str, connect_timeout: float, **kw):
        super().__init__(host, port, **kw)
        self._address = address
        self._connect_timeout = connect_timeout

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), self._connect_timeout)
        sock.settimeout(self.timeout)  # type: ignore[arg-type]
        # As http.client's own connect: no Nagle delay between the request's writes.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, **kw):
        super().__init__(host, port, **kw)
        self._context = context

    def connect(self) -> None:
        self.sock = self._context.wrap_socket(self._open(), server_hostname=self.host)


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    connect_timeout: float,
    max_bytes: int,
    allow_private: bool = False,
) -> Answer:
    """POST ``body`` to ``url`` under the rules above; network errors raise OSError."""
    scheme, host, port, path = check_url(url, allow_private=allow_private)
    address = resolve_checked(host, port, allow_private=allow_private)
    connection: _PinnedHTTPConnection
    if scheme == "https":
        connection = _PinnedHTTPSConnection(
            host,
            port,
            address=address,
            connect_timeout=min(connect_timeout, timeout),
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        connection = _PinnedHTTPConnection(
            host,
            port,
            address=address,
            connect_timeout=min(connect_timeout, timeout),
            timeout=timeout,
        )
    started = time.monotonic()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read(max_bytes)
        status = response.status
    except http.client.HTTPException as error:
        raise OSError(f"a broken HTTP answer: {type(error).__name__}") from None
    finally:
        connection.close()
    return Answer(status=status, body=content, duration_ms=int((time.monotonic() - started) * 1000))
