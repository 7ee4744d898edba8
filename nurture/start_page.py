"""The start page's nurture tile: inquiries in nurture that no program holds (should be none)."""

from __future__ import annotations

from django.urls import reverse

from leadflow.lib import start_page
from leadflow.lib.start_page import Tile
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from nurture.selectors import unenrolled_nurture_inquiries

CAP = 100


def dropped_tiles(principal: Principal) -> list[Tile]:
    """One count query: nurture inquiries without an active enrollment."""
    count = len(unenrolled_nurture_inquiries().values_list("pk", flat=True)[: CAP + 1])
    return [
        Tile(
            key="nurture.dropped",
            label="In nurture but in no program",
            count=min(count, CAP),
            capped=count > CAP,
            url=reverse("nurture-programs") + "#dropped",
            hint="The hourly sweep enrolls them; none should stay here.",
            tone="attention" if count else "info",
        )
    ]


def register() -> None:
    start_page.register(
        "nurture.dropped", dropped_tiles, audiences=(Role.MARKETER, Role.ADMIN), order=60
    )
