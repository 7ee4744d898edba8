"""How a moment is shown to a person: in their time zone, with the zone named.

One format everywhere (pages, admin, email): ``5 Dec 2026 19:41 CET``. Files
for machines (CSV exports) get ISO 8601 with the offset of the same zone:
``2026-12-05T19:41:00+01:00``. The zone is the active one (the middleware
activates the viewer's) unless one is passed, as an email to a buyer does.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, tzinfo
from functools import cache

from django.utils import dateformat, timezone

# Django format characters: day, short month, year, 24-hour time, zone abbreviation.
MOMENT_FORMAT = "j M Y H:i T"
DAY_FORMAT = "j M Y"


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``); ``KeyError`` names the unknown zone."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise KeyError(name) from None


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone a person may pick, sorted (``Africa/Abidjan`` … ``UTC``)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def in_zone(moment: datetime, tz: tzinfo | None = None) -> datetime:
    """``moment`` in ``tz``, or in the active zone (the viewer's on a page)."""
    return timezone.localtime(moment, tz or timezone.get_current_timezone())


def shown(moment: datetime | None, tz: tzinfo | None = None) -> str:
    """``5 Dec 2026 19:41 CET``: the moment for a person to read, the zone named."""
    if moment is None:
        return ""
    return dateformat.format(in_zone(moment, tz), MOMENT_FORMAT)


def shown_day(day: date | datetime | None, tz: tzinfo | None = None) -> str:
    """``5 Dec 2026``: the day of a moment in the zone (or a plain date as it is)."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = in_zone(day, tz).date()
    return dateformat.format(day, DAY_FORMAT)


def iso(moment: datetime | None, tz: tzinfo | None = None) -> str:
    """``2026-12-05T19:41:00+01:00``: ISO 8601 to the second, with the zone's offset."""
    if moment is None:
        return ""
    return in_zone(moment, tz).isoformat(timespec="seconds")


def zone_name(tz: tzinfo | None = None) -> str:
    """The IANA name of ``tz`` (or of the active zone): ``Europe/Berlin``."""
    tz = tz or timezone.get_current_timezone()
    return getattr(tz, "key", None) or str(tz)
