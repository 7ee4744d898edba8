"""The OpenAPI schema says what the API answers: error responses, closed request bodies.

drf-spectacular documents the success of each operation from its serializers.
This module adds what it cannot see:

* :class:`AutoSchema` closes the request body of a serializer that refuses
  unknown fields (``rejects_unknown_fields = True``, as ``StrictSerializer``
  does) with ``additionalProperties: false``;
* :func:`add_error_responses`, a postprocessing hook, marks the optional query
  parameters that take an empty value as "any" (``allowEmptyValue``) and
  documents on every
  operation the errors it can answer, all in the one shape of
  ``leadflow/lib/api_errors.py`` (component ``Error``):

  ====  =====================================================================
  400   the operation takes a body or query parameters, or is unsafe (a
        malformed ``Idempotency-Key``)
  401   every operation: no, bad, revoked or suspended credential
  403   every operation: the caller's role may not use it
  404   every operation: a row not in the caller's tenant, a page past the end
  409   unsafe operations: a business conflict, an ``Idempotency-Key`` in use
  415   operations with a body: a body that is not of the documented type
  422   unsafe operations: an ``Idempotency-Key`` reused for another request
  414   every operation: a URL longer than the HTTP server takes (no body)
  429   every operation: throttled
  ====  =====================================================================
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

UNSAFE = {"post", "put", "patch", "delete"}
METHODS = UNSAFE | {"get", "head", "options"}

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API has this shape (`leadflow/lib/api_errors.py`).",
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "code": {"type": "string", "description": "What went wrong, for programs."},
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "errors": {
            "type": "object",
            "description": "Field errors only: messages by field name or path "
            "(`custom.fleet`, `fit_rules[0].field`); a nested serializer's are nested.",
            "additionalProperties": {
                "oneOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object"},
                ]
            },
        },
    },
    "required": ["status", "code", "detail"],
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: field errors in `errors`, or a business rule said no.",
    "401": "No credential, or a bad, revoked or suspended one.",
    "403": "The caller's role may not use this operation.",
    "404": "Not found in the caller's tenant (another tenant's row too), or a page past the end.",
    "409": "Conflicts with the current state, or an `Idempotency-Key` is still in progress.",
    "415": "The body is not of the documented media type.",
    "422": "An `Idempotency-Key` reused with a different request.",
    "429": "Throttled; retry after `Retry-After` seconds.",
}
# Answered by the HTTP server in front of Django (gunicorn: a request line over 4,094
# bytes), in its own format: documented without a body.
URI_TOO_LONG = {"description": "The URL is longer than the server accepts."}


def documented(field_class: type, schema: dict) -> type:
    """``field_class`` documented as ``schema`` in the OpenAPI schema.

    A subclass, since DRF copies declared field instances per serializer and an
    annotation on the instance is lost.
    """
    return extend_schema_field(schema)(type(field_class.__name__, (field_class,), {}))


class AutoSchema(SpectacularAutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.DecimalField):
            # Taken as a string or a whole JSON number (leadflow/lib/json_input.py).
            whole = {"type": "integer"}
            string = {key: value for key, value in schema.items() if key != "description"}
            if field.min_value is not None:
                whole["minimum"] = int(field.min_value)
            if field.max_digits is not None:
                places = field.decimal_places or 0
                sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
                fraction = f"(\\.[0-9]{{0,{places}}})?" if places else ""
                string["pattern"] = f"^{sign}[0-9]{{1,{field.max_digits - places}}}{fraction}$"
                whole["maximum"] = 10 ** (field.max_digits - (field.decimal_places or 0)) - 1
            schema = {
                "oneOf": [string, whole],
                **({"description": schema["description"]} if "description" in schema else {}),
            }
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "rejects_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema


def _error_statuses(method: str, operation: dict) -> list[str]:
    statuses = ["401", "403", "404", "429"]
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if "requestBody" in operation:
        statuses.append("415")
    if "requestBody" in operation or has_query or method in UNSAFE:
        statuses.append("400")
    if method in UNSAFE:
        statuses += ["409", "422"]
    return sorted(statuses)


# Query parameters whose empty value is refused: a page number (404) and a size (400).
EMPTY_REFUSED = {"page", "page_size"}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the ``Error`` component, each operation's error responses, and
    ``allowEmptyValue`` on the query parameters an empty value leaves out."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in METHODS:
                continue
            for parameter in operation.get("parameters", []):
                # A filter left empty (a form's untouched <select>) means "any": say so.
                if (
                    parameter.get("in") == "query"
                    and not parameter.get("required")
                    and parameter["name"] not in EMPTY_REFUSED
                ):
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            responses.setdefault("414", URI_TOO_LONG)
            for status in _error_statuses(method, operation):
                documented = responses.setdefault(
                    status, {"description": ERROR_DESCRIPTIONS[status]}
                )
                # A view may describe its own case of an error; the body is the one shape.
                documented.setdefault("content", {"application/json": {"schema": reference}})
    return result
