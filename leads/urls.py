"""Browser pages of leads; the paths stay under the inquiry they book."""

from django.urls import path

from leads.views import appointments, team

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
    path("leads/team/", team.team_page, name="lead-team"),
    path("leads/team/reassign/", team.team_reassign_page, name="lead-team-reassign"),
    path("leads/team/<int:pk>/reopen/", team.team_reopen_page, name="lead-team-reopen"),
]
