"""Browser pages of leads; the paths stay under the inquiry they book."""

from django.urls import path

from leads.views import appointments, lead_detail, my_week, routing, settings, team

urlpatterns = [
    path(
        "inquiries/<int:pk>/appointment/",
        appointments.book_appointment_page,
        name="inquiry-book-appointment",
    ),
    path(
        "inquiries/<int:pk>/appointment.ics",
        appointments.appointment_invitation_page,
        name="inquiry-appointment-ics",
    ),
    # The appointment after hand-over (POST only; each redirects back to the lead).
    path(
        "leads/<int:pk>/appointment/held/",
        appointments.appointment_held_page,
        name="lead-appointment-held",
    ),
    path(
        "leads/<int:pk>/appointment/no-show/",
        appointments.appointment_no_show_page,
        name="lead-appointment-no-show",
    ),
    path(
        "leads/<int:pk>/appointment/reschedule/",
        appointments.appointment_reschedule_page,
        name="lead-appointment-reschedule",
    ),
    path(
        "leads/<int:pk>/appointment/cancel/",
        appointments.appointment_cancel_page,
        name="lead-appointment-cancel",
    ),
]

urlpatterns += [
    path("leads/<int:pk>/", lead_detail.lead_detail_page, name="lead-detail"),
    path(
        "leads/<int:pk>/appointment.ics",
        appointments.lead_invitation_page,
        name="lead-appointment-ics",
    ),
    path("leads/week/", my_week.my_week_page, name="my-week"),
    path("leads/<int:pk>/week-update/", my_week.my_week_update, name="my-week-update"),
    path("leads/<int:pk>/touches/new/", my_week.log_touch_page, name="lead-log-touch"),
    path("leads/team/", team.team_page, name="lead-team"),
    path("leads/team/reassign/", team.team_reassign_page, name="lead-team-reassign"),
    path("leads/team/<int:pk>/reopen/", team.team_reopen_page, name="lead-team-reopen"),
]

urlpatterns += [
    path("settings/leads/", settings.lead_settings_page, name="lead-settings"),
    path(
        "settings/leads/phones/<int:pk>/",
        settings.phone_job_progress_page,
        name="lead-settings-phone-job",
    ),
]

urlpatterns += [
    path("settings/routing/", routing.routing_page, name="routing"),
    path("settings/routing/default-team/", routing.default_team_page, name="routing-default-team"),
    path("settings/routing/rules/new/", routing.rule_new_page, name="routing-rule-new"),
    path("settings/routing/rules/<int:pk>/", routing.rule_edit_page, name="routing-rule-edit"),
    path("settings/routing/rules/<int:pk>/move/", routing.rule_move_page, name="routing-rule-move"),
    path(
        "settings/routing/rules/<int:pk>/delete/",
        routing.rule_delete_page,
        name="routing-rule-delete",
    ),
    path("settings/routing/teams/new/", routing.team_new_page, name="routing-team-new"),
    path("settings/routing/teams/<int:pk>/", routing.team_edit_page, name="routing-team-edit"),
    path(
        "settings/routing/teams/<int:pk>/delete/",
        routing.team_delete_page,
        name="routing-team-delete",
    ),
]

from leads.views import targets  # noqa: E402

urlpatterns += [
    path("settings/targets/", targets.targets_page, name="targets"),
]

from leads.views import partner_keys, partners  # noqa: E402

urlpatterns += [
    # The managers' partners page, and the partner portal's API keys.
    path("partners/overview/", partners.partner_overview_page, name="partner-overview"),
    path("partner/keys/", partner_keys.partner_keys_page, name="partner-keys"),
    path(
        "partner/keys/<int:pk>/revoke/", partner_keys.partner_key_revoke, name="partner-key-revoke"
    ),
]

from leads.views import registrations  # noqa: E402

urlpatterns += [
    path("deals/", registrations.deals_page, name="deals"),
]

from leads.views import partner_webhooks  # noqa: E402

urlpatterns += [
    # Partner webhooks (issue 18): the portal's endpoints and log; the managers' overview.
    path("partner/webhooks/", partner_webhooks.partner_webhooks_page, name="partner-webhooks"),
    path(
        "partner/webhooks/<int:pk>/", partner_webhooks.partner_webhook_page, name="partner-webhook"
    ),
    path(
        "partner/webhooks/<int:pk>/rotate/",
        partner_webhooks.partner_webhook_rotate,
        name="partner-webhook-rotate",
    ),
    path(
        "partner/webhooks/<int:pk>/test/",
        partner_webhooks.partner_webhook_test,
        name="partner-webhook-test",
    ),
    path(
        "partner/webhooks/<int:pk>/enabled/",
        partner_webhooks.partner_webhook_enabled,
        name="partner-webhook-enabled",
    ),
    path(
        "partner/webhooks/<int:pk>/delete/",
        partner_webhooks.partner_webhook_delete,
        name="partner-webhook-delete",
    ),
    path(
        "partner/webhooks/deliveries/<int:pk>/resend/",
        partner_webhooks.partner_webhook_resend,
        name="partner-webhook-resend",
    ),
    path("webhooks/", partner_webhooks.webhooks_overview_page, name="webhooks-overview"),
]

# The qualifier's desk (issue 23): a touch before hand-over, from the inquiry page.
from leads.views import desk as desk_views  # noqa: E402

urlpatterns += [
    path("inquiries/<int:pk>/touches/", desk_views.inquiry_touch_page, name="inquiry-log-touch"),
]
