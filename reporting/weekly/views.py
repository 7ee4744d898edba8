"""The weekly report pages: ``/reports/weekly/`` (any week), the leads behind a figure, the CSV.

Managers and admins read every line; a rep or a partner's user its own.
Thin: parse the week, read the same ``week_view`` the API reads, render.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from leadflow.tenancy.pages import page_principal
from leadflow.tenancy.principal import Principal
from reporting.weekly import rendering
from reporting.weekly.models import LineScope
from reporting.weekly.selectors import (
    FIGURE_LABELS,
    BadWeek,
    NotVisible,
    WeekView,
    figure_lead_ids,
    last_week,
    leads_of,
    line_key,
    lost_by_reason,
    may_read_reports,
    parse_week,
    postponed_by_date,
    week_view,
)

PAGE_SIZE = 50
SCOPES = {str(scope) for scope in LineScope}


def _reader(request: HttpRequest) -> Principal:
    principal = page_principal(request)
    if not may_read_reports(principal):
        raise PermissionDenied
    return principal


def _week(request: HttpRequest, principal: Principal) -> tuple[Any, str]:
    """The week asked for (default last week) and a message when the one asked is refused."""
    text = request.GET.get("week", "").strip()
    if not text:
        return last_week(principal.tenant), ""
    try:
        return parse_week(text), ""
    except BadWeek as refused:
        return last_week(principal.tenant), f"{refused} Showing last week."


def _rows(view: WeekView) -> list[dict[str, Any]]:
    rows = []
    for line in view.lines:
        scope, owner = line_key(line)
        rows.append(
            {
                "line": line,
                "figures": rendering.figures(line),
                "scope": scope,
                "owner": "" if owner is None else str(owner),
                "lost_by_reason": lost_by_reason(line),
                "postponed_by_date": postponed_by_date(line),
                "changes": len(view.changes_of(line)),
            }
        )
    return rows


@login_required
def weekly_report_page(request: HttpRequest) -> HttpResponse:
    principal = _reader(request)
    week, message = _week(request, principal)
    with timezone.override(principal.timezone):
        try:
            view = week_view(principal, week)
        except BadWeek as refused:
            week = last_week(principal.tenant)
            view, message = week_view(principal, week), f"{refused} Showing last week."
        return render(
            request,
            "reporting/weekly.html",
            {
                "principal": principal,
                "view": view,
                "rows": _rows(view),
                "message": message,
                "chart": rendering.chart_svg(view.lines) if view.lines else "",
            },
        )


@login_required
def weekly_report_leads_page(request: HttpRequest) -> HttpResponse:
    """The leads behind one figure of one line (``?week=&scope=&id=&figure=``)."""
    principal = _reader(request)
    try:
        week = parse_week(request.GET.get("week", ""))
        scope = request.GET.get("scope", "")
        figure = request.GET.get("figure", "")
        if scope not in SCOPES or figure not in FIGURE_LABELS:
            raise Http404
        raw_id = request.GET.get("id", "")
        owner_id = None if scope == LineScope.TENANT else int(raw_id)
        if owner_id is not None and not 1 <= owner_id < 2**31:
            raise Http404
        view = week_view(principal, week, scope=scope, owner_id=owner_id)
        [line] = view.lines
        ids = figure_lead_ids(view, line, figure)
    except (BadWeek, NotVisible, ValueError):
        raise Http404 from None
    page = Paginator(leads_of(ids), PAGE_SIZE).get_page(request.GET.get("page"))
    with timezone.override(principal.timezone):
        return render(
            request,
            "reporting/weekly_leads.html",
            {
                "principal": principal,
                "view": view,
                "line": line,
                "figure": FIGURE_LABELS[figure],
                "figure_key": figure,
                "page": page,
            },
        )


@login_required
def weekly_report_csv(request: HttpRequest) -> HttpResponse:
    principal = _reader(request)
    try:
        week = parse_week(request.GET.get("week", ""))
        view = week_view(principal, week)
    except BadWeek:
        raise Http404 from None
    response = HttpResponse(rendering.csv_text(view.lines), content_type="text/csv")
    name = rendering.csv_filename(view.week)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
