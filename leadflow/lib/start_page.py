"""The start page's tiles: what needs doing now, per role, registered by the apps that know.

``leadflow/`` may not import the apps (inquiries, leads, …), yet the start
page shows their counts. So each app registers its tiles in its
``AppConfig.ready()``::

    start_page.register(
        "inquiries.triage", inbox_tiles, audiences=(Role.QUALIFIER, Role.MARKETER)
    )

A source is a function of the viewer (a ``Principal``) that returns its
tiles, each with a count and a link to the page that lists those rows. A
source reads through its app's selectors in one or two queries whatever the
number of rows, so the start page costs a fixed number of queries. The set of
tiles per role is this registry: a later feature adds its own tiles, for its
own roles, without touching the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leadflow.tenancy.principal import Principal

# The audience of a partner's user (who has the role "rep" but acts for a partner).
PARTNER = "partner"


@dataclass(frozen=True)
class TileItem:
    """One row a tile lists under its count (e.g. a lead awaiting the rep's acceptance)."""

    text: str
    detail: str = ""
    url: str = ""


@dataclass(frozen=True)
class Tile:
    """A count of things to do, what they are, and where they are listed."""

    key: str
    label: str
    count: int
    url: str
    hint: str = ""
    # "attention": something waits for this person; "info": a state to know.
    tone: str = "info"
    capped: bool = False  # the count stopped at a cap: shown as "N+"
    items: tuple[TileItem, ...] = field(default_factory=tuple)


TileSource = Callable[["Principal"], list[Tile]]


@dataclass(frozen=True)
class _Registered:
    key: str
    source: TileSource
    audiences: frozenset[str]
    order: int


_registry: dict[str, _Registered] = {}


def register(key: str, source: TileSource, *, audiences: tuple[str, ...], order: int = 100) -> None:
    """Show ``source``'s tiles to the roles in ``audiences`` (``PARTNER`` for partner users).

    Registering the same key again replaces it (``ready()`` may run twice in tests).
    """
    _registry[key] = _Registered(key, source, frozenset(audiences), order)


def audience_of(principal: Principal) -> str:
    return PARTNER if principal.is_partner else (principal.role or "")


def sources_for(principal: Principal) -> list[str]:
    """The keys of the sources this viewer sees, in page order."""
    audience = audience_of(principal)
    chosen = [r for r in _registry.values() if audience in r.audiences]
    return [r.key for r in sorted(chosen, key=lambda r: (r.order, r.key))]


def tiles_for(principal: Principal) -> list[Tile]:
    """Every tile this viewer's role sees, in page order."""
    tiles: list[Tile] = []
    for key in sources_for(principal):
        tiles.extend(_registry[key].source(principal))
    return tiles
