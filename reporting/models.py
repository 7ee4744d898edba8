"""Weekly win / loss / postpone reports, funnel and ROI, dashboards (later issues)."""

from reporting.dashboards.models import *  # noqa: E402,F403  (issue 22: the dashboards' rollups)
