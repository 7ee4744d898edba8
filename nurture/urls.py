from django.urls import path

from nurture import views

urlpatterns = [
    path("nurture/", views.program_list, name="nurture-programs"),
    path("nurture/settings/", views.settings_page, name="nurture-settings"),
    path("nurture/<int:pk>/", views.program_detail, name="nurture-program"),
    path("nurture/<int:pk>/<str:change>/", views.program_pause, name="nurture-program-pause"),
    # The inquiry page's nurture panel: enroll by hand, remove (POST only, back to the inquiry).
    path(
        "nurture/inquiry/<int:inquiry_id>/enroll/",
        views.inquiry_enroll,
        name="nurture-inquiry-enroll",
    ),
    path(
        "nurture/inquiry/<int:inquiry_id>/remove/",
        views.inquiry_remove,
        name="nurture-inquiry-remove",
    ),
    # For contacts and the mail provider: no login, no session.
    path("u/<str:token>/", views.unsubscribe, name="nurture-unsubscribe"),
    path("c/<str:token>/", views.confirm, name="nurture-confirm"),
    path("r/<str:token>/", views.tracked_click, name="nurture-click"),
    path("o/<str:token>.gif", views.tracked_open, name="nurture-open"),
    path("hooks/mailgun/<slug:tenant_slug>/", views.mailgun_webhook, name="nurture-mailgun"),
]
# The program builder (issue 20): under builder/ so nothing above ("<pk>/<change>/") catches it.
urlpatterns += [
    path("nurture/builder/new/", views.builder_new, name="nurture-builder-new"),
    path(
        "nurture/builder/audience-count/",
        views.builder_audience_count,
        name="nurture-builder-audience-new",
    ),
    path("nurture/builder/<int:pk>/", views.builder_edit, name="nurture-builder"),
    path(
        "nurture/builder/<int:pk>/audience-count/",
        views.builder_audience_count,
        name="nurture-builder-audience",
    ),
    path("nurture/builder/<int:pk>/steps/", views.builder_add_step, name="nurture-builder-add"),
    path(
        "nurture/builder/<int:pk>/steps/reorder/",
        views.builder_reorder,
        name="nurture-builder-reorder",
    ),
    path(
        "nurture/builder/<int:pk>/steps/<int:step_pk>/",
        views.builder_step,
        name="nurture-builder-step",
    ),
    path(
        "nurture/builder/<int:pk>/steps/<int:step_pk>/move/",
        views.builder_move_step,
        name="nurture-builder-move",
    ),
    path(
        "nurture/builder/<int:pk>/steps/<int:step_pk>/delete/",
        views.builder_delete_step,
        name="nurture-builder-delete",
    ),
    path(
        "nurture/builder/<int:pk>/steps/<int:step_pk>/preview/",
        views.builder_preview,
        name="nurture-builder-preview",
    ),
    path(
        "nurture/builder/<int:pk>/steps/<int:step_pk>/test/",
        views.builder_send_test,
        name="nurture-builder-test",
    ),
]
