"""Browser pages of leads; the paths stay under the inquiry they book."""

from django.urls import path

from leads.views import appointments, my_week

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
    path("leads/week/", my_week.my_week_page, name="my-week"),
    path("leads/<int:pk>/week-update/", my_week.my_week_update, name="my-week-update"),
    path("leads/<int:pk>/touches/new/", my_week.log_touch_page, name="lead-log-touch"),
]
