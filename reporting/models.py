"""Weekly win / loss / postpone reports, funnel and ROI, dashboards (later issues)."""

# The dashboards' rollups (reporting/dashboards/) and the Monday report (reporting/weekly/)
# keep their tables in their sub-packages.
from reporting.dashboards.models import *  # noqa: F403
from reporting.weekly.models import (  # noqa: F401
    LineScope,
    ReportSettings,
    WeeklyReport,
    WeeklyReportLine,
)
