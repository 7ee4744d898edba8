"""Browser pages and API routes of the Monday report (included once by ``leadflow/urls.py``)."""

from django.urls import path

from reporting.weekly import api, views

urlpatterns = [
    path("reports/weekly/", views.weekly_report_page, name="weekly-report"),
    path("reports/weekly/leads/", views.weekly_report_leads_page, name="weekly-report-leads"),
    path("reports/weekly/export.csv", views.weekly_report_csv, name="weekly-report-csv"),
]

api_urlpatterns = [
    path("reports/weekly/", api.WeeklyReportView.as_view(), name="weekly-report"),
    path(
        "reports/weekly/settings/",
        api.ReportSettingsView.as_view(),
        name="weekly-report-settings",
    ),
]
