"""The start page's outbox tile for admins: messages that could not be sent."""

from __future__ import annotations

from django.urls import reverse

from leadflow.lib import start_page
from leadflow.lib.start_page import Tile
from leadflow.outbox import selectors
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal


def failed_message_tiles(principal: Principal) -> list[Tile]:
    count = selectors.failed_messages().count()
    return [
        Tile(
            key="outbox.failed",
            label="Failed messages",
            count=count,
            url=reverse("outbox-failed"),
            hint="Emails and webhooks that could not be delivered; retry them there.",
            tone="attention" if count else "info",
        )
    ]


def register() -> None:
    start_page.register("outbox.failed", failed_message_tiles, audiences=(Role.ADMIN,), order=70)
