"""The API's JSON parser: what Python's JSON reader accepts but PostgreSQL cannot store is a 400.

Every JSON body of the API is read here (``DEFAULT_PARSER_CLASSES``), so each
endpoint gets the same answers without its own checks:

* a body nested deeper than :data:`MAX_DEPTH` levels is a parse error: no
  endpoint takes more than a few, and deeper ones (a few kilobytes of ``[``)
  would raise ``RecursionError`` in the JSON reader, or later when a value
  is written to a ``jsonb`` column;
* a NUL character (``\\u0000``) or a lone UTF-16 surrogate (``\\ud800``) in any
  string, key or value, is a field error naming where it is
  (``activity_details.note``, ``fit_rules[0].label``): PostgreSQL's ``text``
  and ``jsonb`` cannot hold the one, UTF-8 cannot encode the other.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers

NUL_MESSAGE = "Null characters are not allowed."
SURROGATE_MESSAGE = "Unpaired surrogate characters are not allowed."
MAX_DEPTH = 32
TOO_DEEP_MESSAGE = f"JSON parse error - the body is nested more than {MAX_DEPTH} levels deep."


class TooDeep(ValueError):
    pass


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def unstorable_strings(data: Any, parent: str = "") -> dict[str, list[str]]:
    """Where ``data`` holds a string PostgreSQL cannot store, by path, with the reason.

    Raises :class:`TooDeep` for data nested more than :data:`MAX_DEPTH` levels.
    """
    errors: dict[str, list[str]] = {}
    # Iterative, so that depth is checked before anything recurses into the body.
    stack: list[tuple[Any, str, int]] = [(data, parent, 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TooDeep(TOO_DEEP_MESSAGE)
        if isinstance(value, str):
            problem = _problem(value)
            if problem:
                errors.setdefault(path or "non_field_errors", [problem])
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _problem(key)
                if problem:
                    # The key itself cannot be named; its container is.
                    errors.setdefault(path or "non_field_errors", [problem])
                    continue
                stack.append((item, _path(path, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, _path(path, index), depth + 1) for index, item in enumerate(value))
    return dict(sorted(errors.items()))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP_MESSAGE) from None
        try:
            errors = unstorable_strings(data)
        except TooDeep as exc:
            raise exceptions.ParseError(str(exc)) from None
        if errors:
            raise exceptions.ValidationError(errors)
        return data
