from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from inquiries.api import catalog as catalog_api
from inquiries.api import definitions as definitions_api
from inquiries.api import imports as imports_api
from inquiries.api import inbox as inbox_api
from inquiries.api import inquiries as inquiries_api
from inquiries.api import rescoring as rescoring_api
from inquiries.api.merging import DuplicatesView, MergeView
from inquiries.api.outcomes import OutcomesView
from leadflow.outbox import api as outbox_api
from leadflow.tenancy import api as tenancy_api
from leadflow.tenancy import views as tenancy_views
from leadflow.tenancy.admin import admin_site
from leadflow.tenancy.forms import LoginForm
from leads.api import leads as leads_api
from leads.api.appointments import AppointmentViewSet, BookAppointmentView
from leads.api.routing import RoutingPreviewView, RoutingRuleViewSet, TeamViewSet
from leads.api.settings import LeadSettingsView

router = SimpleRouter()
router.register("partners", tenancy_api.PartnerViewSet, basename="partner")
router.register("api-keys", tenancy_api.ApiKeyViewSet, basename="api-key")
router.register("tokens", tenancy_api.UserTokenViewSet, basename="user-token")
router.register("audit-events", tenancy_api.AuditEventViewSet, basename="audit-event")
router.register("members", tenancy_api.MemberViewSet, basename="member")
router.register("invitations", tenancy_api.InvitationViewSet, basename="invitation")
router.register("inquiries/imports", imports_api.ImportJobViewSet, basename="import-job")
router.register(
    "inquiries/import-mappings", imports_api.ImportMappingViewSet, basename="import-mapping"
)
router.register("inquiries/saved-views", inbox_api.SavedViewViewSet, basename="saved-view")
router.register("inquiries/bulk-jobs", inbox_api.BulkJobViewSet, basename="bulk-job")
router.register("inquiries", inquiries_api.InquiryViewSet, basename="inquiry")
router.register("campaigns", catalog_api.CampaignViewSet, basename="campaign")
router.register("custom-fields", catalog_api.CustomFieldViewSet, basename="custom-field")
router.register(
    "lead-definitions", definitions_api.LeadDefinitionViewSet, basename="lead-definition"
)
router.register("rescore-jobs", rescoring_api.RescoreJobViewSet, basename="rescore-job")
router.register("leads", leads_api.LeadViewSet, basename="lead")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("outbox", outbox_api.OutboxMessageViewSet, basename="outbox-message")
router.register(
    "disqualify-reasons", inbox_api.DisqualifyReasonViewSet, basename="disqualify-reason"
)

api_v1 = [
    path("me/", tenancy_api.MeView.as_view(), name="me"),
    # The CSV export keeps its file name: no trailing slash, unlike the router's routes.
    path(
        "inquiries/export.csv",
        inquiries_api.InquiryViewSet.as_view({"get": "export"}),
        name="inquiry-export",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "inquiries/<int:pk>/appointment/",
        BookAppointmentView.as_view(),
        name="inquiry-appointment",
    ),
    path("inquiries/<int:pk>/merge/", MergeView.as_view(), name="inquiry-merge"),
    path("inquiries/duplicates/", DuplicatesView.as_view(), name="inquiry-duplicates"),
    *router.urls,
]

api_v1 += [
    path("lead-settings/", LeadSettingsView.as_view(), name="lead-settings"),
]

# Issue 24 (onboarding a CRM export): outcomes in bulk.
api_v1 += [
    path("inquiries/outcomes/", OutcomesView.as_view(), name="inquiry-outcomes"),
]

routing_router = SimpleRouter()
routing_router.register("teams", TeamViewSet, basename="team")
routing_router.register("routing-rules", RoutingRuleViewSet, basename="routing-rule")
api_v1 += routing_router.urls
api_v1 += [
    path("routing/preview/", RoutingPreviewView.as_view(), name="routing-preview"),
]

urlpatterns = [
    path("", tenancy_views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tenant/switch/", tenancy_views.switch_tenant, name="switch-tenant"),
    path("settings/", tenancy_views.my_settings, name="my-settings"),
    path("settings/tokens/", tenancy_views.my_tokens, name="my-tokens"),
    path("settings/tokens/<int:pk>/revoke/", tenancy_views.token_revoke, name="token-revoke"),
    path("partners/", tenancy_views.partner_list, name="partner-list"),
    path("partners/<int:pk>/", tenancy_views.partner_detail, name="partner-detail"),
    path("partners/<int:pk>/<str:change>/", tenancy_views.partner_status, name="partner-status"),
    path("members/", tenancy_views.member_list, name="member-list"),
    path("members/<int:pk>/", tenancy_views.member_detail, name="member-detail"),
    path("members/<int:pk>/<str:change>/", tenancy_views.member_status, name="member-status"),
    path(
        "members/invitations/<int:pk>/<str:change>/",
        tenancy_views.invitation_change,
        name="invitation-change",
    ),
    path("invitations/<str:token>/", tenancy_views.invitation_accept, name="invitation-accept"),
    path("", include("leadflow.outbox.urls")),
    path("", include("inquiries.urls")),
    path("", include("leads.urls")),
    path("admin/", admin_site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="v1:schema"),
        name="api-docs",
    ),
]

handler400 = "leadflow.lib.error_views.bad_request"
handler403 = "leadflow.lib.error_views.permission_denied"
handler404 = "leadflow.lib.error_views.page_not_found"
handler500 = "leadflow.lib.error_views.server_error"

# Quarterly targets (leads.api.targets); appended to the API list the include above reads.
from leads.api.targets import TargetViewSet  # noqa: E402

api_v1 += [
    path("targets/", TargetViewSet.as_view({"get": "list", "post": "create"}), name="target-list"),
    path("targets/<int:pk>/", TargetViewSet.as_view({"delete": "destroy"}), name="target-detail"),
]

# Deal registrations (leads.api.registrations): partners register buyers, first wins.
from leads.api.registrations import DealRegistrationViewSet  # noqa: E402

registrations_router = SimpleRouter()
registrations_router.register(
    "deal-registrations", DealRegistrationViewSet, basename="deal-registration"
)
api_v1 += registrations_router.urls

# Partner webhooks (leadflow.outbox.endpoints.api, issue 18): endpoints and their delivery log.
from leadflow.outbox.endpoints.api import (  # noqa: E402
    WebhookDeliveryViewSet,
    WebhookEndpointViewSet,
)

webhooks_router = SimpleRouter()
webhooks_router.register(
    "webhook-endpoints/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery"
)
webhooks_router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
api_v1 += webhooks_router.urls

# The Monday report (reporting.weekly, issue 21): its page and its API routes.
from reporting.weekly.urls import api_urlpatterns as weekly_report_api  # noqa: E402

api_v1 += weekly_report_api
urlpatterns += [path("", include("reporting.weekly.urls"))]
# Manager dashboards (reporting.dashboards, issue 22): /api/v1/reports/… and /reports/….
from reporting.dashboards import urls as dashboards_urls  # noqa: E402

api_v1 += dashboards_urls.api_patterns
urlpatterns += dashboards_urls.urlpatterns
# The qualifier's desk (issue 23): working one inquiry, and tasks on inquiries.
from inquiries.api.desk import InquiryNotesView, RequalifyView, TaskViewSet  # noqa: E402
from leads.api.desk import InquiryTimelineView, InquiryTouchesView  # noqa: E402

desk_router = SimpleRouter()
desk_router.register("tasks", TaskViewSet, basename="task")
api_v1 += [
    path("inquiries/<int:pk>/touches/", InquiryTouchesView.as_view(), name="inquiry-touches"),
    path("inquiries/<int:pk>/notes/", InquiryNotesView.as_view(), name="inquiry-notes"),
    path("inquiries/<int:pk>/requalify/", RequalifyView.as_view(), name="inquiry-requalify"),
    path("inquiries/<int:pk>/timeline/", InquiryTimelineView.as_view(), name="inquiry-timeline"),
    *desk_router.urls,
]
# Nurture (issue 19): programs, enrollments, consent, settings; the pages, the unsubscribe
# link and Mailgun's bounce webhook.
from nurture import api as nurture_api  # noqa: E402

nurture_router = SimpleRouter()
nurture_router.register(
    "nurture/programs", nurture_api.NurtureProgramViewSet, basename="nurture-program"
)
nurture_router.register(
    "nurture/enrollments", nurture_api.EnrollmentViewSet, basename="nurture-enrollment"
)
api_v1 += nurture_router.urls
api_v1 += [
    path(
        "nurture/consent/<int:inquiry_id>/",
        nurture_api.ConsentView.as_view(),
        name="nurture-consent",
    ),
    path("nurture/settings/", nurture_api.NurtureSettingsView.as_view(), name="nurture-settings"),
]
urlpatterns += [path("", include("nurture.urls"))]
# The nurture program builder (issue 20): programs created and changed, steps, audience count.
nurture_builder_router = SimpleRouter()
nurture_builder_router.register(
    r"nurture/programs/(?P<program_pk>[0-9]+)/steps",
    nurture_api.NurtureStepViewSet,
    basename="nurture-step",
)
api_v1 += nurture_builder_router.urls
api_v1 += [
    path(
        "nurture/audience-count/",
        nurture_api.AudienceCountView.as_view(),
        name="nurture-audience-count",
    ),
]
