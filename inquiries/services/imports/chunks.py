"""The mapped file read in chunks, a person's rows together: for the dry run and the real run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from inquiries.models import ImportJob
from inquiries.services.imports.files import read_records
from inquiries.services.imports.order import find_repeats, read_in_person_order
from inquiries.services.imports.rows import Plan
from inquiries.services.imports.upload import open_stored, stored_file

DEFAULT_CHUNK_SIZE = 5_000

# A running job whose heartbeat is older than this is taken to be dead; another run resumes it.
STALE_AFTER = timedelta(minutes=2)


def records_in_order(job: ImportJob, plan: Plan) -> Iterator[tuple[int, list[str]]]:
    """The file's records, the rows sharing an email after the first of them (``order.py``)."""
    emails = [
        index
        for index, _header, spec in plan.columns
        if spec["to"] == "field" and spec["field"] == "email"
    ]
    if emails:
        repeats = find_repeats(
            stored_file(job),
            job.encoding,
            job.delimiter,
            emails[-1],
            plan.placeholders,
            job.total_rows,
        )
        if repeats is not None and repeats.positions:
            yield from read_in_person_order(stored_file(job), job.encoding, job.delimiter, repeats)
            return
    with open_stored(job) as handle:
        yield from read_records(handle, job.delimiter)


def chunked(
    job: ImportJob, plan: Plan, size: int, skip: int = 0
) -> Iterator[list[tuple[int, list[str]]]]:
    """The rows in chunks of ``size``, in a person's-rows-together order, after ``skip`` rows."""
    chunk: list[tuple[int, list[str]]] = []
    seen = 0
    for record in records_in_order(job, plan):
        seen += 1
        if seen <= skip:
            continue
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
