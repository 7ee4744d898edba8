"""Browser pages for merging inquiries that are the same person, and the possible duplicates.

``/inquiries/merge/?ids=1,2,3`` shows what the merge would give, field by
field, and merges on confirmation; ``/inquiries/duplicates/`` lists likely
pairs to review. An id that is not an inquiry of the tenant is a 404 and
nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from inquiries.models import Consent, Inquiry, Outcome, Source, Stage, Timeline
from inquiries.selectors.inquiries import inquiry_list
from inquiries.selectors.merging import WINDOW as DUPLICATE_WINDOW
from inquiries.selectors.merging import parse_cursor, possible_duplicates
from inquiries.services.merging import (
    MAX_MERGE,
    FieldChoice,
    MergePreview,
    default_survivor,
    merge_inquiries,
    preview_merge,
)
from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import User
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import MARKETING

PAGE_SIZE = 50
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "timeline": dict(Timeline.choices),
    "source": dict(Source.choices),
    "consent": dict(Consent.choices),
    "stage": dict(Stage.choices),
    "outcome": dict(Outcome.choices),
}


def _ids(text: str) -> list[int]:
    try:
        ids = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        return []
    return ids if all(pk > 0 for pk in ids) else []


def _names(preview: MergePreview) -> dict[str, dict[Any, str]]:
    """How ids of campaigns, partners and assignees read on the page."""
    people = preview.inquiries
    users = {c.value for c in preview.fields if c.name == "assigned_to"} | {
        v for c in preview.fields if c.name == "assigned_to" for v in c.values
    }
    return {
        "campaign": {i.campaign_id: i.campaign.name for i in people if i.campaign_id},
        "partner": {i.partner_id: i.partner.name for i in people if i.partner_id},
        "assigned_to": {
            user.pk: user.display_name for user in User.objects.filter(pk__in=users - {None})
        },
    }


def _shown(name: str, value: Any, names: dict[str, dict[Any, str]]) -> str:
    if value is None or value == "":
        return ""
    if name in names:
        return names[name].get(value, f"#{value}")
    if name in CHOICE_LABELS:
        return CHOICE_LABELS[name].get(value, value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return times.shown(value)
    return str(value)


def _rows(preview: MergePreview, choices: tuple[FieldChoice, ...], names) -> list[dict]:
    rows = []
    for choice in choices:
        cells = []
        for inquiry, value in zip(preview.inquiries, choice.values, strict=True):
            wins = choice.winner_id == inquiry.pk or (
                choice.winner_id is None and value == choice.value and value not in (None, "")
            )
            cells.append({"text": _shown(choice.name, value, names), "wins": wins})
        rows.append(
            {
                "name": choice.name,
                "label": choice.label,
                "cells": cells,
                "value": _shown(choice.name, choice.value, names),
                "reason": choice.reason,
                "differs": choice.differs,
            }
        )
    return rows


def _render(request, inquiries: list[Inquiry], survivor: Inquiry, *, error=None, status=200):
    context: dict[str, Any] = {"ids": ",".join(str(i.pk) for i in inquiries), "error": error}
    context["survivor"] = survivor
    context["inquiries"] = sorted(inquiries, key=lambda i: -i.pk)
    others = [i for i in inquiries if i.pk != survivor.pk]
    try:
        preview = preview_merge(survivor=survivor, others=others)
    except RuleViolation as exc:
        # The merge refuses what the preview refuses: show why, and no confirm button.
        context["error"] = error or exc
        if error is None:
            status = 409 if exc.conflict else 400
    else:
        names = _names(preview)
        context.update(
            preview=preview,
            inquiries=list(preview.inquiries),
            rows=_rows(preview, preview.fields, names),
            custom_rows=_rows(preview, preview.custom, names),
            activity_cells=[preview.activity_counts.get(i.pk, 0) for i in preview.inquiries],
            email_cells=[preview.additional_emails.get(i.pk, ()) for i in preview.inquiries],
        )
    return render(request, "inquiries/merge.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@member_page(*MARKETING)
def merge_page(request, principal):
    """Preview merging the inquiries in ``?ids=`` and merge them on confirmation."""
    ids = _ids(request.GET.get("ids", ""))[: MAX_MERGE + 1]
    found = inquiry_list().in_bulk(ids)
    if not ids or len(found) != len(ids):
        raise Http404("No such inquiries.")
    inquiries = list(found.values())
    chosen = _ids(request.POST.get("survivor") or request.GET.get("survivor") or "")
    if chosen and chosen[0] not in found:
        raise Http404("The survivor is not one of these inquiries.")
    survivor = found[chosen[0]] if chosen else default_survivor(inquiries)
    if request.method != "POST":
        return _render(request, inquiries, survivor)
    others = [i for i in inquiries if i.pk != survivor.pk]
    try:
        merged = merge_inquiries(survivor=survivor, others=others, by=principal)
    except RuleViolation as exc:
        return _render(request, inquiries, survivor, error=exc, status=409 if exc.conflict else 400)
    messages.success(
        request, f"Merged {len(others) + 1} inquiries into {merged.display_name} (#{merged.pk})."
    )
    return redirect("inquiry-detail", pk=merged.pk)


@require_safe
@member_page(*MARKETING)
def duplicates_page(request, principal):
    """Pairs of inquiries that are likely the same person, each with a link to review the merge."""
    try:
        after = parse_cursor(request.GET.get("after"))
    except ValueError:
        after = None
    page = possible_duplicates(limit=PAGE_SIZE, after=after)
    return render(
        request,
        "inquiries/duplicates.html",
        {"page": page, "after": after, "window": f"{DUPLICATE_WINDOW:,}"},
    )
