"""Query-string filters that take exactly what the OpenAPI schema says they take.

Django's ``forms.IntegerField`` also takes ``1.0`` and `` 1 ``; the schema
says ``integer``, so these take an optional minus sign and digits only, within
the bounds of the column they compare with (an id up to the largest bigint).
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

ID_MAX = 2**63 - 1
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
_WHOLE = re.compile(r"-?[0-9]+")


class WholeNumberField(forms.IntegerField):
    def to_python(self, value):
        if value not in self.empty_values and not _WHOLE.fullmatch(str(value)):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class WholeNumberFilter(django_filters.Filter):
    """A whole number (``min_value``/``max_value`` bound it)."""

    field_class = WholeNumberField


@extend_schema_field(ID_SCHEMA)
class IdFilter(WholeNumberFilter):
    """A row id: a whole number from 1 up to the id column's largest value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


# --- An empty value means "not given" ---------------------------------------------------
# A form left blank sends ``?source=``, and the fuzzer sends the empty values the schema
# allows: every optional query parameter reads an empty value as absent, never as a 400.


def without_empty(data: Any) -> dict[str, Any]:
    """The query string's parameters without those whose value is empty (not given)."""
    return {key: value for key, value in data.items() if value != ""}


class EmptyMeansNotGiven:
    """Mixin for a DRF query serializer (before ``Serializer`` in its bases): parameters
    with an empty value are left out before validation, as if not given."""

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(without_empty(data))  # type: ignore[misc]
