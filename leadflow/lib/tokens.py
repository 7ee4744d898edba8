"""Bearer secrets: generation, the stored digest, and the tenant they name.

A secret looks like ``lfk_<tenant id>_<43 random characters>`` (``lfu_`` for a
user token). The tenant id in clear lets authentication select the tenant
before it looks the credential up, so the lookup itself runs under row-level
security. 256 random bits make a salted slow hash unnecessary: a SHA-256
digest cannot be reversed or brute-forced, and it is indexed for the lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

API_KEY_KIND = "lfk"
USER_TOKEN_KIND = "lfu"
KINDS = {API_KEY_KIND, USER_TOKEN_KIND}


@dataclass(frozen=True)
class ParsedSecret:
    kind: str
    tenant_id: int
    digest: str


def generate(kind: str, tenant_id: int) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown credential kind {kind!r}")
    return f"{kind}_{tenant_id}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    """The first characters, enough for a person to recognise a key in a list.

    Literally the start of the secret, ``lfu_12_AbCd``: the random part may
    hold ``_`` itself, so it is split off from the left. At most 16
    characters (the column): a tenant id past 7 digits is cut, the 4 random
    characters never are.
    """
    kind, tenant_id, random_part = secret.split("_", 2)
    return f"{kind}_{tenant_id}"[:11] + "_" + random_part[:4]


def parse(secret: str) -> ParsedSecret | None:
    """Split a presented secret; ``None`` when it is not one of ours."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] not in KINDS or not parts[1].isdigit():
        return None
    if len(parts[2]) < 20 or len(secret) > 200:
        return None
    return ParsedSecret(kind=parts[0], tenant_id=int(parts[1]), digest=digest(secret))


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
