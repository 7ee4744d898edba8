"""``/reports/``: the four dashboards as pages, their tables as CSV, and the rows behind a figure.

Thin like the API: validate the query string with the API's serializers, read
the selectors, lay the figures out as tables (one layout for the page and its
CSV) and SVG charts. A bad parameter shows a message and no figures; another
tenant's campaign or partner is a 404.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from rest_framework import exceptions

from inquiries.models import Campaign, Source
from leadflow.tenancy.models import Partner
from leadflow.tenancy.pages import page_principal
from leadflow.tenancy.principal import Principal
from reporting.dashboards import api, query, selectors, svg

BOARDS = {
    "funnel": "Funnel",
    "roi": "Marketing ROI",
    "accountability": "Accountability",
    "nurture": "Nurture effect",
}
HISTORY_BOARDS = ("funnel", "roi")
PAGE_SIZE = 50


@dataclass
class Cell:
    text: str
    href: str = ""


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


class Links:
    """Links to the rows page keeping the dashboard's own query string."""

    def __init__(self, params: dict[str, str]):
        self.params = params
        self.base = reverse("report-rows-page")

    def __call__(self, metric: str, **extra: Any) -> str:
        params = {**self.params, **{k: v for k, v in extra.items() if v}, "metric": metric}
        return f"{self.base}?{urlencode(params)}"


def _funnel(scope: selectors.Scope, link: Links) -> tuple[list[SafeString], list[Table]]:
    found = selectors.funnel(scope)
    table = Table("Funnel", ["Step", "Count", "From previous", "From inquiry", "Median days"])
    bars = []
    for step in found.steps:
        href = link(f"funnel.{step.key}")
        table.rows.append(
            [
                Cell(step.label),
                Cell(_num(step.count), href),
                Cell(svg.percent(step.rate_from_previous)),
                Cell(svg.percent(step.rate_from_inquiry)),
                Cell(_num(step.median_days)),
            ]
        )
        bars.append(svg.Bar(step.label, step.count, _num(step.count), href))
    times = [
        svg.Bar(s.label, float(s.median_days or 0), f"{_num(s.median_days)} d")
        for s in found.steps
        if s.key != "won"
    ]
    charts = [
        svg.bar_chart(bars, title="Inquiries reaching each step"),
        svg.bar_chart(times, title="Median days in each stage"),
    ]
    return charts, [table]


def _roi(scope: selectors.Scope, link: Links) -> tuple[list[SafeString], list[Table]]:
    found = selectors.roi(scope)
    marketing = Table(
        "Marketing's view: leads ÷ spend",
        ["Campaign", "Spend", "Inquiries", "MQLs", "Leads", "Leads per 1,000", "Cost per inquiry"]
        + ["Cost per MQL", "Cost per lead", "Cost per win"],
    )
    sales = Table("Sales' view: won ÷ leads", ["Campaign", "Leads", "Won", "Win rate", "Value won"])
    bars = []
    for row in [*found.campaigns, found.total]:
        campaign = str(row.campaign_id) if row.campaign_id else ""
        name = Cell(row.name)
        if row.name == "No campaign":
            campaign = ""

        def to(metric: str, c: str = campaign, none: bool = row.name == "No campaign") -> str:
            # The inquiries of no campaign have no filter of their own: their figures stay text.
            return "" if none else link(metric, campaign=c)

        marketing.rows.append(
            [
                name,
                Cell(_num(row.spend)),
                Cell(_num(row.inquiries), to("funnel.inquiries")),
                Cell(_num(row.mqls), to("funnel.mqls")),
                Cell(_num(row.leads), to("funnel.leads")),
                Cell(_num(row.leads_per_1000)),
                Cell(_num(row.cost_per_inquiry)),
                Cell(_num(row.cost_per_mql)),
                Cell(_num(row.cost_per_lead)),
                Cell(_num(row.cost_per_win)),
            ]
        )
        sales.rows.append(
            [
                name,
                Cell(_num(row.leads), to("funnel.leads")),
                Cell(_num(row.won), to("funnel.won")),
                Cell(svg.percent(row.win_rate)),
                Cell(_num(row.value_won), to("funnel.won")),
            ]
        )
        if row is not found.total and row.cost_per_lead is not None:
            bars.append(svg.Bar(row.name, float(row.cost_per_lead), _num(row.cost_per_lead)))
    target = Table("Sales' view: value won ÷ target", ["Value won", "Target", "Share of target"])
    target.rows.append(
        [
            Cell(_num(found.total.value_won), link("funnel.won")),
            Cell(_num(found.target_value)),
            Cell(svg.percent(found.value_to_target)),
        ]
    )
    charts = [svg.bar_chart(bars, title="Cost per lead by campaign")] if bars else []
    return charts, [marketing, sales, target]


def _accountability(scope: selectors.Scope, link: Links) -> tuple[list[SafeString], list[Table]]:
    found = selectors.accountability(scope)
    owners = Table(
        "Per rep and partner",
        ["Owner", "Open", "Missing this week", "Acceptance breaches", "Stale", "Unworked"]
        + ["Money at risk"],
    )
    for row in [*found.owners, found.total]:
        rep = str(row.rep_id or "") if row is not found.total else ""
        partner = str(row.partner_id or "") if row is not found.total else ""

        nobody = row is not found.total and not (row.rep_id or row.partner_id)

        def to(metric: str, r: str = rep, p: str = partner, n: bool = nobody) -> str:
            # Leads with no owner have no filter of their own: their figures stay text.
            return "" if n else link(f"accountability.{metric}", rep=r, partner=p)

        owners.rows.append(
            [
                Cell(row.name),
                Cell(_num(row.open), to("open")),
                Cell(_num(row.missing), to("missing")),
                Cell(_num(row.breached), to("breached")),
                Cell(_num(row.stale), to("stale")),
                Cell(_num(row.unworked), to("unworked")),
                Cell(_num(row.money_at_risk), to("unworked")),
            ]
        )
    histogram = Table("Touches per closed lead", ["Touches", "Closed leads"])
    bars = []
    for bucket in found.histogram:
        href = link(f"accountability.touches.{bucket.touches}")
        histogram.rows.append([Cell(bucket.touches), Cell(_num(bucket.leads), href)])
        tone = "good" if bucket.touches in ("8-12", "13+") else "primary"
        if bucket.touches.isdigit() and int(bucket.touches) <= found.touch_cliff:
            tone = "warn"
        bars.append(
            svg.Bar(f"{bucket.touches} touches", bucket.leads, _num(bucket.leads), href, tone)
        )
    partners = Table("Partner compliance", ["Partner", "Status", "Open", "Missing this week"])
    for p in found.partners:
        partners.rows.append(
            [
                Cell(p.name),
                Cell(p.status.capitalize()),
                Cell(_num(p.open), link("accountability.open", partner=p.partner_id)),
                Cell(_num(p.missing), link("accountability.missing", partner=p.partner_id)),
            ]
        )
    charts = [svg.bar_chart(bars, title="Touches per closed lead")]
    return charts, [owners, histogram, partners]


def _nurture(scope: selectors.Scope, link: Links) -> tuple[list[SafeString], list[Table]]:
    found = selectors.nurture_effect(scope)
    table = Table(
        "Nurtured versus never nurtured",
        ["Month", "Nurtured", "Won", "Rate", "Never nurtured", "Won", "Rate"],
    )
    for month in [*found.months, found.total]:
        label = month.month.strftime("%b %Y") if month is not found.total else "Whole period"
        days: dict[str, str] = {}
        if month is not found.total:
            # A month's figures link to that month's rows (within the period).
            end = (month.month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            days = {
                "from": max(month.month, scope.first).isoformat(),
                "to": min(end, scope.last).isoformat(),
            }

        def to(metric: str, d: dict[str, str] = days) -> str:
            return link(metric, **d)

        table.rows.append(
            [
                Cell(label),
                Cell(_num(month.nurtured), to("nurture.nurtured")),
                Cell(_num(month.nurtured_won), to("nurture.nurtured_won")),
                Cell(svg.percent(month.nurtured_rate)),
                Cell(_num(month.never), to("nurture.never")),
                Cell(_num(month.never_won), to("nurture.never_won")),
                Cell(svg.percent(month.never_rate)),
            ]
        )
    total = found.total
    bars = [
        svg.Bar(
            "Nurtured",
            float((total.nurtured_rate or 0) * 100),
            svg.percent(total.nurtured_rate),
            link("nurture.nurtured_won"),
            "good",
        ),
        svg.Bar("Articles: nurtured", 17.5, "15–20%", "", "secondary"),
        svg.Bar(
            "Never nurtured",
            float((total.never_rate or 0) * 100),
            svg.percent(total.never_rate),
            link("nurture.never_won"),
        ),
        svg.Bar("Articles: without", 9.0, "8–10%", "", "secondary"),
    ]
    chart = svg.bar_chart(bars, title="Conversion: nurtured versus never nurtured")
    return [chart], [table, _programs_table(scope, link)]


def _programs_table(scope: selectors.Scope, link: Links) -> Table:
    """Per program, people enrolled in the period and how far they got: each figure links
    to its people, each rate is of those enrolled."""
    table = Table(
        "Per program: enrolled in the period, then",
        ["Program", "Enrolled", "Engaged", "MQL", "Lead", "Won", "Won ÷ enrolled"],
    )
    for program in selectors.nurture_programs(scope):
        name = program.name + (" (long-term)" if program.long_term else "")
        name += " — paused" if program.paused else ""
        table.rows.append(
            [
                Cell(name),
                *(
                    Cell(
                        _num(getattr(program, step)),
                        link(f"nurture.program.{step}", program=program.program_id),
                    )
                    for step in ("enrolled", "engaged", "mqls", "leads", "won")
                ),
                Cell(svg.percent(program.rates["won"])),
            ]
        )
    return table


BUILDERS = {
    "funnel": _funnel,
    "roi": _roi,
    "accountability": _accountability,
    "nurture": _nurture,
}


def _read(
    request: HttpRequest, principal: Principal, serializer: type
) -> tuple[selectors.Scope, dict[str, str], dict[str, list[str]]]:
    """The scope asked for, the query string to keep in links, and field errors (if any)."""
    given = query.cleaned(request.GET)
    data = serializer(data=given)
    try:
        valid = data.is_valid()
    except exceptions.NotFound as missing:
        raise Http404(str(missing.detail)) from None
    if not valid:
        errors = {k: [str(e) for e in v] for k, v in data.errors.items()}
        return query.scope_of(principal, {}), {}, errors
    fields = dict(data.validated_data)
    keep = {k: v for k, v in given.items() if k in data.fields and k not in ("metric", "page")}
    return query.scope_of(principal, fields), keep, {}


def _choices() -> dict[str, Any]:
    return {
        "sources": Source.choices,
        "campaigns": list(Campaign.objects.order_by("name").values_list("id", "name")),
    }


@login_required
def reports_home(request: HttpRequest) -> HttpResponse:
    page_principal(request)
    return redirect("report-page", board="funnel")


@login_required
def dashboard_page(request: HttpRequest, board: str) -> HttpResponse:
    if board not in BOARDS:
        raise Http404("No such dashboard.")
    principal = page_principal(request)
    serializer = query.HistoryQuery if board in HISTORY_BOARDS else query.ReportQuery
    scope, keep, errors = _read(request, principal, serializer)
    charts, tables = ([], []) if errors else BUILDERS[board](scope, Links(keep))
    partners = [] if principal.is_partner else list(Partner.objects.values_list("id", "name"))
    return render(
        request,
        "reporting/dashboards.html",
        {
            "board": board,
            "title": BOARDS[board],
            "boards": BOARDS,
            "scope": scope,
            "errors": errors,
            "charts": charts,
            "tables": [(i, t) for i, t in enumerate(tables)],
            "keep": keep,
            "csv_query": urlencode(keep),
            "history_toggle": board in HISTORY_BOARDS,
            "partners": partners,
            **_choices(),
        },
    )


@login_required
def dashboard_csv(request: HttpRequest, board: str) -> HttpResponse:
    if board not in BOARDS:
        raise Http404("No such dashboard.")
    principal = page_principal(request)
    serializer = query.HistoryQuery if board in HISTORY_BOARDS else query.ReportQuery
    scope, keep, errors = _read(request, principal, serializer)
    if errors:
        return HttpResponse("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), status=400)
    _charts, tables = BUILDERS[board](scope, Links(keep))
    try:
        table = tables[int(request.GET.get("table", "0"))]
    except (ValueError, IndexError):
        raise Http404("No such table.") from None
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{board}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([cell.text for cell in row])
    return response


@login_required
def rows_page(request: HttpRequest) -> HttpResponse:
    principal = page_principal(request)
    scope, keep, errors = _read(request, principal, query.RowsQuery)
    metric = request.GET.get("metric", "")
    page = None
    if not errors:
        kind, found = api.rows_of(metric, scope)
        page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [api.row_of(r, kind) for r in page]
    else:
        rows = []
    return render(
        request,
        "reporting/dashboards_rows.html",
        {
            "metric": metric,
            "errors": errors,
            "page": page,
            "rows": rows,
            "scope": scope,
            "back_query": urlencode(keep),
            "page_query": urlencode({**keep, "metric": metric}),
        },
    )
