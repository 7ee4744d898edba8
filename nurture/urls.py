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
