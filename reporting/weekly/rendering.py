"""The weekly report as people read it outside the page: CSV, the email's HTML and text, a chart.

Every figure is formatted here once (:func:`figures`), so the page, the API,
the CSV and the email show the same number the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from leadflow.lib import weeks
from reporting.weekly.models import WeeklyReportLine
from reporting.weekly.selectors import lost_by_reason, postponed_by_date

CSV_HEADER = [
    "scope",
    "name",
    "won",
    "won_value",
    "quarter_won_value",
    "quarter_target_value",
    "lost",
    "lost_by_reason",
    "postponed",
    "postponed_until",
    "progressed",
    "touches",
    "sla_breaches",
    "missing_updates",
    "missing_update_leads",
]


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def joined(pairs: Sequence[tuple[str, int]]) -> str:
    return "; ".join(f"{key or '(none)'}: {count}" for key, count in pairs)


def figures(line: WeeklyReportLine) -> dict[str, Any]:
    """One line's figures as strings and numbers, the way every output shows them."""
    return {
        "scope": line.scope,
        "name": line.name,
        "won": line.won_count,
        "won_value": money(line.won_value),
        "quarter_won_value": money(line.quarter_won_value),
        "quarter_target_value": money(line.target_value),
        "lost": line.lost_count,
        "lost_by_reason": joined(lost_by_reason(line)),
        "postponed": line.postponed_count,
        "postponed_until": joined(postponed_by_date(line)),
        "progressed": line.progressed_count,
        "touches": line.touches,
        "sla_breaches": line.breach_count,
        "missing_updates": line.missing_count,
        "missing_update_leads": " ".join(str(i) for i in line.missing_ids),
    }


def csv_text(lines: Sequence[WeeklyReportLine]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_HEADER, lineterminator="\r\n")
    writer.writeheader()
    for line in lines:
        writer.writerow(figures(line))
    return out.getvalue()


def csv_filename(week: date) -> str:
    return f"weekly-report-{weeks.week_label(week)}.csv"


@dataclass(frozen=True)
class Bar:
    label: str
    won: int
    lost: int
    postponed: int
    y: int
    won_width: int
    lost_width: int
    postponed_width: int


CHART_WIDTH = 360
BAR_HEIGHT = 14
ROW_HEIGHT = 22
LABEL_WIDTH = 140


def chart_svg(lines: Sequence[WeeklyReportLine]) -> str:
    """A small horizontal bar chart (won / lost / postponed per line), drawn on the server.

    Inline SVG: no script, no image to fetch, so mail programs and the page
    show the same picture.
    """
    shown = [line for line in lines if line.scope != "tenant"][:12] or list(lines)[:1]
    biggest = max([1, *(ln.won_count + ln.lost_count + ln.postponed_count for ln in shown)])
    scale = (CHART_WIDTH - LABEL_WIDTH - 10) / biggest
    bars = []
    for index, line in enumerate(shown):
        bars.append(
            Bar(
                label=line.name[:22],
                won=line.won_count,
                lost=line.lost_count,
                postponed=line.postponed_count,
                y=index * ROW_HEIGHT + 20,
                won_width=round(line.won_count * scale),
                lost_width=round(line.lost_count * scale),
                postponed_width=round(line.postponed_count * scale),
            )
        )
    return render_to_string(
        "reporting/weekly_chart.svg",
        {
            "bars": bars,
            "width": CHART_WIDTH,
            "height": len(bars) * ROW_HEIGHT + 30,
            "label_width": LABEL_WIDTH,
            "bar_height": BAR_HEIGHT,
        },
    )


def email_html(*, tenant_name: str, week: date, lines: Sequence[WeeklyReportLine], url: str) -> str:
    return render_to_string(
        "reporting/weekly_email.html",
        {
            "tenant_name": tenant_name,
            "label": weeks.week_label(week),
            "rows": [figures(line) for line in lines],
            "chart": chart_svg(lines),
            "url": url,
        },
    )


def email_text(*, tenant_name: str, week: date, lines: Sequence[WeeklyReportLine], url: str) -> str:
    out = [f"{tenant_name}: weekly report {weeks.week_label(week)}", ""]
    for line in lines:
        row = figures(line)
        out.append(
            f"{row['name']} ({row['scope']}): won {row['won']} ({row['won_value']}), "
            f"lost {row['lost']}, postponed {row['postponed']}, progressed {row['progressed']}, "
            f"touches {row['touches']}, SLA breaches {row['sla_breaches']}, "
            f"missing updates {row['missing_updates']}"
        )
    out += ["", f"The report: {url}"]
    return "\n".join(out)
