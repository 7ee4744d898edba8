"""Browser pages of leads; the paths stay under the inquiry they book."""

from django.urls import path

from leads.views import appointments

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
