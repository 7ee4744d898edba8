"""The one JSON error shape of the API.

Every error, from validation to a missing route, reads::

    {"status": 400, "code": "invalid", "detail": "...", "errors": {"field": ["..."]}}

``errors`` is present for field errors only.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from leadflow.lib.rules import RuleViolation


def body(status_code: int, code: str, detail: str, errors: dict | None = None) -> dict:
    payload: dict = {"status": status_code, "code": code, "detail": detail}
    if errors:
        payload["errors"] = errors
    return payload


def _field_errors(data) -> dict:
    if isinstance(data, dict):
        return {
            key: [str(item) for item in value] if isinstance(value, list) else _field_errors(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return {"non_field_errors": [str(item) for item in data]}
    return {"non_field_errors": [str(data)]}


def exception_handler(exc, context):
    if isinstance(exc, RuleViolation):
        status_code = status.HTTP_409_CONFLICT if exc.conflict else status.HTTP_400_BAD_REQUEST
        return Response(
            body(status_code, exc.code, exc.message, {exc.field: [exc.message]}),
            status=status_code,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        first = next(iter(errors.values()), ["Invalid input."])
        detail = first[0] if isinstance(first, list) and first else "Invalid input."
        code = _first_code(exc.get_codes())
        response.data = body(400, code or "invalid", detail, errors)
        return response
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    response.data = body(
        response.status_code,
        codes if isinstance(codes, str) else "error",
        str(detail),
    )
    return response


def _first_code(codes) -> str | None:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, list):
        return _first_code(codes[0]) if codes else None
    if isinstance(codes, dict):
        return _first_code(next(iter(codes.values()), None))
    return None


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(body(status_code, code, detail), status=status_code)
