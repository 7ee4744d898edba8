"""``Idempotency-Key`` for every unsafe API request (IETF httpapi draft, Stripe).

The first request with a key claims it in a transaction of its own, then runs
in a second transaction that also stores its response, so the work and the
stored answer commit together or not at all. Later requests with the key get
that answer replayed with its status; with another body, 422; while the first
still runs, 409. An answer that did not come from running the request — 401,
403, 429 or any 5xx — is not stored, and neither is a streamed one: the retry
runs afresh. A response that shows a secret once (a new user token) stores a
replay without it: the secret exists only in the first answer.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.http import HttpResponse

from leadflow.lib.api_errors import json_error
from leadflow.tenancy import services

HEADER = "Idempotency-Key"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NOT_STORED = {401, 403, 429}


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= 255 and all(32 < ord(ch) < 127 for ch in key)


def _body_digest(request) -> bytes:
    """What identifies the request's body, without holding a large upload in memory.

    A multipart body (a CSV upload of up to hundreds of megabytes) is parsed
    by Django, which streams its files to disk; its fields and each file's
    name, size and SHA-256, read in chunks, stand for it. DRF reuses that
    parse. Any other body is small (DATA_UPLOAD_MAX_MEMORY_SIZE) and is used
    as it is.
    """
    if not request.content_type.startswith("multipart/form-data"):
        return request.body
    digest = hashlib.sha256()

    def add(*parts: str | bytes) -> None:
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)

    for name in sorted(request.POST):
        add("field", name, *request.POST.getlist(name))
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            content = hashlib.sha256()
            for chunk in upload.chunks():
                content.update(chunk)
            upload.seek(0)
            add("file", name, upload.name or "", str(upload.size), content.digest())
    return digest.digest()


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        principal = getattr(request, "principal", None)
        if (
            key is None
            or principal is None
            or request.method not in UNSAFE_METHODS
            or not request.path.startswith("/api/")
        ):
            return self.get_response(request)
        if not _valid_key(key):
            return json_error(
                400,
                "invalid_idempotency_key",
                f"{HEADER} must be 1–255 visible ASCII characters without spaces.",
            )
        request_fingerprint = services.fingerprint(
            method=request.method, path=request.get_full_path(), body=_body_digest(request)
        )
        claim = services.claim_idempotency_key(
            key=key, request_fingerprint=request_fingerprint, by=principal
        )
        if claim.outcome == "mismatch":
            return json_error(
                422,
                "idempotency_key_reused",
                f"This {HEADER} was already used with a different request.",
            )
        if claim.outcome == "in_progress":
            return json_error(
                409,
                "idempotency_key_in_progress",
                f"A request with this {HEADER} is still being processed; retry shortly.",
            )
        if claim.outcome == "replay":
            record = claim.record
            response = HttpResponse(
                bytes(record.response_body or b""),
                status=record.status_code,
                content_type=record.content_type or None,
            )
            response["Idempotent-Replayed"] = "true"
            return response

        with transaction.atomic():
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
            elif response.status_code not in NOT_STORED and not response.streaming:
                # A response that carries a secret names what its replay says instead,
                # so the secret is never stored (a new user token's).
                services.complete_idempotency_key(
                    record=claim.record,
                    status_code=response.status_code,
                    content_type=response.get("Content-Type", ""),
                    body=getattr(response, "idempotent_replay_body", response.content),
                )
                return response
        services.release_idempotency_key(record=claim.record)
        return response
