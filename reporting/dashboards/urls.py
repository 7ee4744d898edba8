"""Routes of the dashboards: the API under /api/v1/reports/, the pages under /reports/."""

from django.urls import include, path

from reporting.dashboards import api, views

api_patterns = [
    path("funnel/", api.FunnelView.as_view(), name="report-funnel"),
    path("roi/", api.RoiView.as_view(), name="report-roi"),
    path("accountability/", api.AccountabilityView.as_view(), name="report-accountability"),
    path("nurture/", api.NurtureView.as_view(), name="report-nurture"),
    path("rows/", api.RowsView.as_view(), name="report-rows"),
]

page_patterns = [
    path("", views.reports_home, name="reports"),
    path("rows/", views.rows_page, name="report-rows-page"),
    path("<str:board>/", views.dashboard_page, name="report-page"),
    path("<str:board>.csv", views.dashboard_csv, name="report-csv"),
]

urlpatterns = [
    path("api/v1/reports/", include((api_patterns, "reports"), namespace="reports-api")),
    path("reports/", include(page_patterns)),
]
