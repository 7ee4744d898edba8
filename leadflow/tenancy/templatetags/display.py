"""How every page shows a moment and a person (a builtin: no ``{% load %}`` needed).

``{{ moment|when }}``  → ``<time datetime="2026-12-05T19:41:00+01:00"
title="Europe/Berlin">5 Dec 2026 19:41 CET</time>``, in the viewer's zone.
``{{ moment|day }}``   → ``5 Dec 2026``, the day in the viewer's zone.
``{{ user|person }}``  → ``<span title="dana@acme.example">Dana Whitfield</span>``,
or the email when the person gave no name.
``{{ amount|money:"EUR" }}`` → ``EUR 1,234.50`` (the tenant's currency; none: ``1,234.50``).
``{{ value|detail:people }}`` → a stored detail (of an activity) for a person to read:
an ISO 8601 moment as ``|when`` shows it, a member's email as their name.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from leadflow.lib import times

register = template.Library()


@register.filter
def when(moment: datetime | date | None) -> str:
    if not moment:
        return ""
    if not isinstance(moment, datetime):
        return times.shown_day(moment)
    local = times.in_zone(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        times.iso(local),
        times.zone_name(local.tzinfo),
        times.shown(local),
    )


@register.filter
def day(moment: datetime | date | None) -> str:
    return times.shown_day(moment)


@register.filter
def person(user) -> str:
    if user is None:
        return ""
    if user.full_name.strip():
        return format_html('<span title="{}">{}</span>', user.email, user.display_name)
    return user.email


@register.filter
def money(amount: Decimal | int | None, currency: str = "") -> str:
    if amount is None or amount == "":
        return "—"
    shown = f"{Decimal(amount):,.2f}"
    # A no-break space keeps the code and the figure on one line in a narrow column.
    return f"{currency}\u00a0{shown}" if currency else shown


@register.filter
def detail(value, people: dict[str, str] | None = None):
    if not isinstance(value, str):
        return value
    if people and value in people:
        return format_html('<span title="{}">{}</span>', value, people[value])
    if len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return when(moment)
    return value
