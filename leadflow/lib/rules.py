"""The one domain error a service raises when a business rule says no."""

from __future__ import annotations


class RuleViolation(Exception):
    """A business rule refused the change; nothing was written.

    The API turns it into a 400 with ``{field: [message]}`` (or 409 for
    ``conflict=True``); a browser view shows it as a form message.
    """

    def __init__(self, *, field: str, code: str, message: str, conflict: bool = False):
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message
        self.conflict = conflict
