"""Routes of the dashboards: the API under /api/v1/reports/, the pages under /reports/."""

from django.urls import include, path

from reporting.dashboards import api, views

# Appended to the API's list (leadflow/urls.py), so they share its namespace and schema.
api_patterns = [
    path("reports/funnel/", api.FunnelView.as_view(), name="report-funnel"),
    path("reports/roi/", api.RoiView.as_view(), name="report-roi"),
    path("reports/accountability/", api.AccountabilityView.as_view(), name="report-accountability"),
    path("reports/nurture/", api.NurtureView.as_view(), name="report-nurture"),
    path(
        "reports/nurture/programs/",
        api.NurtureProgramsView.as_view(),
        name="report-nurture-programs",
    ),
    path("reports/rows/", api.RowsView.as_view(), name="report-rows"),
]

page_patterns = [
    path("", views.reports_home, name="reports"),
    path("rows/", views.rows_page, name="report-rows-page"),
    path("<str:board>/", views.dashboard_page, name="report-page"),
    path("<str:board>.csv", views.dashboard_csv, name="report-csv"),
]

urlpatterns = [path("reports/", include(page_patterns))]
