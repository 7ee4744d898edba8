"""Panels other apps add to the inquiry page, registered in their ``AppConfig.ready()``.

The inquiry page shows what became of the person after marketing (the
appointment, the leads sales works on), yet ``inquiries`` may not import the
apps that own those rows. An app registers a panel here; the page renders
every registered panel, in order, in its side column. Without ``leads``
installed the page simply has no such panel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString

from inquiries.models import Inquiry
from leadflow.tenancy.principal import Principal

# (request, principal, inquiry, state) -> the panel's HTML. ``state`` carries what a
# view that re-renders the page hands to its own panel (e.g. a bound form with errors).
Render = Callable[[HttpRequest, Principal, Inquiry, Mapping[str, Any]], SafeString]


@dataclass(frozen=True)
class Panel:
    key: str
    render: Render
    order: int


_panels: dict[str, Panel] = {}


def register(key: str, render: Render, *, order: int = 50) -> None:
    """Show ``render``'s HTML on every inquiry page (registering a key again replaces it)."""
    _panels[key] = Panel(key=key, render=render, order=order)


def render_panels(
    request: HttpRequest,
    principal: Principal,
    inquiry: Inquiry,
    state: Mapping[str, Any] | None = None,
) -> list[SafeString]:
    """Every registered panel's HTML for this inquiry, in order."""
    chosen = sorted(_panels.values(), key=lambda panel: (panel.order, panel.key))
    return [panel.render(request, principal, inquiry, state or {}) for panel in chosen]
