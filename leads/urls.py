"""Browser pages of leads; the paths stay under the inquiry they book."""

from django.urls import path

from leads.views import appointments, lead_detail

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
]

urlpatterns += [
    path("leads/<int:pk>/", lead_detail.lead_detail_page, name="lead-detail"),
]
