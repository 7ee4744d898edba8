"""Reading an uploaded CSV: storing it, its encoding and delimiter, its structure.

A file is refused whole when it cannot be read as CSV (see ``analyse_upload``
in ``imports.py``); these helpers say what is wrong and where.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from leadflow.lib.rules import RuleViolation

MAX_PROBLEMS_SHOWN = 5
MAX_COLUMNS = 500
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")


def read_records(handle: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every record after the header; blank lines are skipped.

    Row 1 is the header, row 2 the first record under it, as a spreadsheet
    numbers them (a quoted field with line breaks is one row).
    """
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    next(reader, None)
    for number, cells in enumerate(reader, start=2):
        if cells:  # a blank line is no row; a row of empty cells is (and is reported)
            yield number, cells


def unreadable(message: str, code: str = "malformed") -> RuleViolation:
    return RuleViolation(field="file", code=code, message=message)


def store_upload(file: Any, path: Path) -> tuple[int, str, bool, bool, bytes]:
    """Copy the upload to disk in chunks: (size, sha256, valid UTF-8, has NUL, first bytes)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, nul, size, head = True, False, 0, b""
    limit = settings.IMPORT_MAX_BYTES
    chunks = file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(1 << 20), b"")
    with open(path, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise unreadable(
                    f"The file is larger than {limit // (1024 * 1024)} MB.", code="too_large"
                )
            if len(head) < SAMPLE_BYTES:
                head += chunk[: SAMPLE_BYTES - len(head)]
            digest.update(chunk)
            nul = nul or b"\x00" in chunk
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            out.write(chunk)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return size, digest.hexdigest(), utf8, nul, head


def sniff_delimiter(sample: str) -> str:
    """The candidate that splits the sample's header widest, consistently across its rows."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside a record
    best, best_score = ",", (False, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        score = (width > 1 and all(len(r) == width for r in rows[1:]), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def looks_binary(text: str) -> bool:
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\r\n")
    return controls > max(2, len(text) // 100)


def unique_headers(cells: list[str]) -> list[str]:
    headers: list[str] = []
    for n, cell in enumerate(cells, start=1):
        name = cell.strip() or f"Column {n}"
        base, k = name, 2
        while name in headers:
            name, k = f"{base} ({k})", k + 1
        headers.append(name)
    return headers


def check_structure(path: Path, encoding: str, delimiter: str) -> tuple[list[str], int]:
    """The headers and the number of rows; RuleViolation naming the first problems."""
    problems: list[str] = []
    count = 0
    try:
        with open(path, encoding=encoding, newline="", errors="strict") as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise unreadable("The file is empty: it has no header row.", code="empty")
            if len(header) > MAX_COLUMNS:
                raise unreadable(f"The file has more than {MAX_COLUMNS} columns.")
            width = len(header)
            for number, cells in enumerate(reader, start=2):
                if not cells:
                    continue
                count += 1
                if len(cells) != width:
                    problems.append(
                        f"row {number} has {len(cells)} fields where the header has {width}"
                    )
    except csv.Error as exc:
        row = count + len(problems) + 2
        raise unreadable(
            f"The file is not valid CSV near row {row}: {exc} "
            "(an unclosed quote, or a quote inside an unquoted field)."
        ) from None
    except UnicodeDecodeError:
        raise unreadable(
            "The file is not text in UTF-8 or Windows-1252; it looks like a binary file. "
            "Save it as CSV (UTF-8) and upload it again.",
            code="binary",
        ) from None
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise unreadable(
            f"{len(problems)} rows do not have as many fields as the header: {shown}"
            + (f"; and {more} more" if more > 0 else "")
            + ". Nothing was imported.",
            code="ragged",
        )
    if not count:
        raise unreadable("The file has a header but no rows.", code="no_rows")
    return unique_headers(header), count
