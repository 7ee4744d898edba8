"""The first values of each column of an uploaded CSV, so a person can tell its columns apart."""

from __future__ import annotations

import csv
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
