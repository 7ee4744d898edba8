"""The start page's tenancy tile (partners), registered in ``TenancyConfig.ready()``."""

from __future__ import annotations

from django.urls import reverse

from leadflow.lib import start_page
from leadflow.lib.start_page import Tile
from leadflow.tenancy import selectors
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS


def partner_tiles(principal: Principal) -> list[Tile]:
    found = selectors.partner_counts()
    return [
        Tile(
            key="tenancy.partners",
            label="Active partners",
            count=found["active"],
            url=reverse("partner-list"),
            hint=f"{found['suspended']} suspended.",
        )
    ]


def register() -> None:
    start_page.register("tenancy.partners", partner_tiles, audiences=MANAGERS, order=60)
