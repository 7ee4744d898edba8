"""Input serializers that take each JSON value only in the type the OpenAPI schema documents.

DRF coerces what it can: ``"name": 0`` becomes ``"0"`` and ``"active": 0``
becomes ``false``. A client that integrates from the schema should get the
schema's word, so a JSON body whose value has another JSON type than the
field's is a 400 naming the field. Form and multipart data (all strings) is
left to the fields, and so are ``null`` values (``allow_null`` decides).
A decimal is taken as a string or a whole JSON number, and documented so
(``leadflow/lib/openapi.py``). With ``rejects_unknown_fields = True`` an unknown
field is a 400 on it too (the schema closes the body).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import QueryDict
from rest_framework import serializers

_NUMBER = (int, float)


def json_types(field: serializers.Field) -> tuple[type, ...] | None:
    """The Python types of the JSON values ``field`` takes; None: any."""
    if isinstance(field, serializers.BooleanField):
        return (bool,)
    if isinstance(field, serializers.IntegerField):
        return (int,)
    if isinstance(field, serializers.DecimalField):
        # Exact: a string ("1200.50") or a whole number, never a binary float.
        return (int, str)
    if isinstance(field, serializers.FloatField):
        return (*_NUMBER, str)
    if isinstance(field, serializers.ListField | serializers.MultipleChoiceField):
        return (list,)
    if isinstance(field, serializers.DictField):
        return (dict,)
    if isinstance(field, serializers.ChoiceField):
        return (str,) if all(isinstance(key, str) for key in field.choices) else None
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateField
        | serializers.DateTimeField
        | serializers.TimeField,
    ):
        return (str,)
    return None


def _name(types: tuple[type, ...]) -> str:
    if types == (bool,):
        return "true or false"
    if types == (int,):
        return "a whole number"
    if types == (list,):
        return "a list"
    if types == (dict,):
        return "an object"
    if types == (str,):
        return "a string"
    if types == (int, str):
        return 'a decimal as a string ("1200.50") or a whole number'
    return "a number"


def _list_item_error(field: serializers.ListField, items: list) -> str | None:
    """The error for the first item of ``items`` whose JSON type the list's child does not take."""
    types = json_types(field.child)
    if types is None:
        return None
    for index, item in enumerate(items):
        if item is None:
            continue
        if not isinstance(item, types) or (isinstance(item, bool) and bool not in types):
            return f"Item {index + 1}: give {_name(types)}."
    return None


class JsonTypedInput:
    """Mixin for a serializer whose JSON input must have the documented type field by field."""

    fields: dict[str, serializers.Field]

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors: dict[str, list[str]] = {}
            if getattr(self, "rejects_unknown_fields", False):
                for name in sorted(set(data) - set(self.fields)):
                    errors[name] = ["Unknown field."]
            for name, field in self.fields.items():
                value = data.get(name)
                if field.read_only or value is None:
                    continue
                types = json_types(field)
                if types is None:
                    continue
                wrong = not isinstance(value, types) or (
                    isinstance(value, bool) and bool not in types
                )
                if wrong:
                    errors[name] = [f"Give {_name(types)}."]
                elif isinstance(field, serializers.ListField):
                    item_error = _list_item_error(field, value)
                    if item_error:
                        errors[name] = [item_error]
            if errors:
                raise serializers.ValidationError(errors, code="invalid")
        return super().to_internal_value(data)
