"""The first values of each column of an uploaded CSV, so a person can tell its columns apart."""

from __future__ import annotations

import csv
from collections import Counter
from itertools import islice
from pathlib import Path

from django.conf import settings

from inquiries.models import ImportJob

PREVIEW_RECORDS = 20


def column_samples(job: ImportJob, *, per_column: int = 3, width: int = 40) -> dict[str, list[str]]:
    """Up to ``per_column`` distinct non-empty values of each column, from the top of the file.

    Only the first records are read, however large the file. A file already
    removed (the job ended) or unreadable gives no samples rather than an error.
    """
    path = Path(settings.IMPORTS_ROOT) / job.stored_path
    samples: dict[str, list[str]] = {header: [] for header in job.headers}
    try:
        with open(path, encoding=job.encoding or "utf-8", newline="", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=job.delimiter or ",")
            next(reader, None)
            for cells in islice(reader, PREVIEW_RECORDS):
                for header, cell in zip(job.headers, cells, strict=False):
                    text = cell.strip()
                    if len(text) > width:
                        text = text[: width - 1] + "…"
                    shown = samples[header]
                    if text and text not in shown and len(shown) < per_column:
                        shown.append(text)
    except (OSError, csv.Error):
        return {}
    return samples


def distinct_values(
    job: ImportJob, headers: list[str], *, limit: int = 200
) -> dict[str, list[tuple[str, int]]]:
    """Each column's distinct non-empty values (trimmed) with their counts, most frequent first.

    The whole file is read once (a value seen once in row 9,000 is still a
    value to map). At most ``limit`` values are kept per column; a column with
    more is mapped for its most frequent values and guessed for the rest.
    Placeholders ("Select", "N/A") are left out: they already mean empty.
    """
    path = Path(settings.IMPORTS_ROOT) / job.stored_path
    placeholders = {p.lower() for p in job.placeholders}
    indexes = [(job.headers.index(h), h) for h in headers if h in job.headers]
    counts: dict[str, Counter[str]] = {h: Counter() for _i, h in indexes}
    try:
        with open(path, encoding=job.encoding or "utf-8", newline="", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=job.delimiter or ",")
            next(reader, None)
            for cells in reader:
                for index, header in indexes:
                    if index < len(cells):
                        text = cells[index].strip()
                        if text and text.lower() not in placeholders:
                            counts[header][text] += 1
    except (OSError, csv.Error):
        return {}
    return {
        header: sorted(counter.items(), key=lambda item: (-item[1], item[0].lower()))[:limit]
        for header, counter in counts.items()
    }
