"""Cells written to a CSV file that a spreadsheet will open: no formula injection.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which some spreadsheets skip before such a character) is read as a
formula by Excel, LibreOffice and Google Sheets. Prefixing ``'`` makes it
plain text there, as OWASP recommends; the stored value is never changed.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should show it: text that looks like a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
