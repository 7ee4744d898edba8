"""Weekly win / loss / postpone reports, funnel and ROI, dashboards (later issues)."""

# The Monday report (reporting/weekly/): its tables live in the sub-package.
from reporting.weekly.models import (  # noqa: F401
    LineScope,
    ReportSettings,
    WeeklyReport,
    WeeklyReportLine,
)
