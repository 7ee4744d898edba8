"""The order an import takes a file's rows in: a person's rows together, at the first one's place.

An export from another tool repeats people (20% of the rows in the
benchmark's file), and the repeats are spread over the whole file. Taken in
file order, a repeat usually falls in a later chunk than the person's first
row: the first chunk inserts the person, and the later one has to read the
stored row back, lock it, merge and rescore it, and update it with all its
indexes (3 to 4 s of a 100,000-row import). Taken together, the rows of a
person are merged in memory and the person is inserted once.

Rows that share an email (trimmed, lower case, placeholders ignored) are
taken right after the first of them, in file order; every other row keeps
its place. Matching is unchanged: the rows are matched as before, only in
this order, so a repeat pulled forward merges exactly as it did in its own
chunk; a row that shares its email with nobody (or that links to a person
only by phone or external id) stays where it is. The order depends on the
file and the mapping only — never on the chunk size or the process — so a
run that resumes after ``done_rows`` rows skips exactly the rows written.

How: a first pass reads the file and notes, for each repeated email, the
byte offset of each repeat; the second pass reads the file again, skips the
repeats where they stand and reads each one from its offset after the first
row of its person. The first pass keeps a table of 8 bytes per slot, two
slots per row (a 32-bit CRC of the email and the row's position), and 32
bytes per repeat; nothing of the rows themselves. A file with a carriage
return that does not end a line (old Mac line ends) is read in file order,
as the byte offsets of its lines would not be those of its rows.
"""

from __future__ import annotations

import contextlib
import csv
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from inquiries.services.imports.files import read_records

Record = tuple[int, list[str]]


class _InFileOrder(Exception):
    """The file has a carriage return that does not end a line."""


def _lines(raw: BinaryIO, encoding: str, at: list[int]) -> Iterator[str]:
    """A binary file's lines, decoded; ``at[0]`` is the byte offset after the last one given."""
    offset = raw.tell()
    plain = "utf-8" if encoding == "utf-8-sig" else encoding  # the mark starts the file only
    for line in raw:
        offset += len(line)
        at[0] = offset
        if line.count(b"\r") > line.endswith(b"\r\n"):
            raise _InFileOrder
        yield line.decode(encoding)
        encoding = plain


class _Repeats:
    """Where the repeats are: their positions in file order, and who comes after whom."""

    def __init__(self) -> None:
        self.positions = array("Q")  # of each repeat, ascending
        self.numbers = array("Q")  # its row number
        self.offsets = array("Q")  # the byte offset its record starts at
        self.after = array("Q")  # (position of the person's first row) << 32 | repeat index

    def add(self, first: int, position: int, number: int, offset: int) -> None:
        self.after.append(first << 32 | len(self.positions))
        self.positions.append(position)
        self.numbers.append(number)
        self.offsets.append(offset)

    def sort(self) -> None:
        self.after = array("Q", sorted(self.after))


def _records(raw: BinaryIO, encoding: str, delimiter: str) -> Iterator[tuple[int, int, list[str]]]:
    """(row number, byte offset, cells) of each record after the header, as ``read_records``."""
    at = [raw.tell()]
    reader = csv.reader(_lines(raw, encoding, at), delimiter=delimiter, strict=True)
    next(reader, None)
    start = at[0]
    for number, cells in enumerate(reader, start=2):
        if cells:
            yield number, start, cells
        start = at[0]


def _email_key(cells: list[str], index: int, placeholders: frozenset[str]) -> str:
    text = cells[index].strip().lower() if index < len(cells) else ""
    return "" if text in placeholders else text


def find_repeats(
    path: Path,
    encoding: str,
    delimiter: str,
    email_index: int,
    placeholders: frozenset[str],
    expected_rows: int,
) -> _Repeats | None:
    """The first pass; None when the file must be read in file order."""
    slots = 1 << max(4, (2 * max(expected_rows, 1) - 1).bit_length())
    mask = slots - 1
    table = array("Q", bytes(8 * slots))  # crc << 32 | position + 1; 0 is a free slot
    used = 0
    repeats = _Repeats()
    with open(path, "rb") as raw, contextlib.suppress(_InFileOrder):
        for position, (number, offset, cells) in enumerate(_records(raw, encoding, delimiter)):
            key = _email_key(cells, email_index, placeholders)
            if not key:
                continue
            crc = zlib.crc32(key.encode())
            slot = crc & mask
            while True:
                held = table[slot]
                if not held:
                    used += 1
                    if 4 * used > 3 * slots:  # more rows than the file had when analysed
                        return None
                    table[slot] = crc << 32 | (position + 1)
                    break
                if held >> 32 == crc:
                    # The same email, or (rarely) another with the same CRC: either way
                    # the row is only taken earlier, and matched by its own values.
                    repeats.add((held & 0xFFFFFFFF) - 1, position, number, offset)
                    break
                slot = (slot + 1) & mask
        repeats.sort()
        return repeats
    return None


def read_in_person_order(
    path: Path, encoding: str, delimiter: str, repeats: _Repeats
) -> Iterator[Record]:
    """The second pass: (row number, cells) of every record, each repeat after its first row."""
    plain = "utf-8" if encoding == "utf-8-sig" else encoding
    moved = 0  # the next repeat to skip where it stands
    following = 0  # the next repeat to take after its first row
    # The first pass found no lone carriage return: text mode reads the same records.
    with open(path, encoding=encoding, newline="") as text, open(path, "rb") as seeker:
        for position, (number, cells) in enumerate(read_records(text, delimiter)):
            if moved < len(repeats.positions) and repeats.positions[moved] == position:
                moved += 1
                continue
            yield number, cells
            while following < len(repeats.after) and repeats.after[following] >> 32 == position:
                index = repeats.after[following] & 0xFFFFFFFF
                seeker.seek(repeats.offsets[index])
                reader = csv.reader(_lines(seeker, plain, [0]), delimiter=delimiter, strict=True)
                yield repeats.numbers[index], next(reader)
                following += 1
