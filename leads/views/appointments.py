"""Browser pages of booking: the appointment form on the inquiry page, and its invitation.

Every view is thin: a form, one service call, a redirect with a message. A
business rule that says no (``RuleViolation``) comes back as a form error and
nothing is written. The inquiry is looked up within the tenant, so another
tenant's inquiry is a 404, never a 403. Dates are read in the viewer's time
zone (their own, else the tenant's).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST, require_safe

from inquiries.selectors.inquiries import inquiry_list
from inquiries.views.inquiries import render_inquiry_detail
from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Role
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import MARKETING
from leadflow.tenancy.selectors import member_list
from leads.selectors.appointments import appointment_of
from leads.services.booking import book_appointment
from leads.services.confirmations import appointment_invitation

BOOKABLE_REP_ROLES = (Role.REP, Role.MANAGER, Role.ADMIN)


class AppointmentForm(forms.Form):
    """The decision-maker's appointment, in the viewer's local time (shown beside the field)."""

    starts_at = forms.DateTimeField(
        label="Starts",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=5, max_value=480, initial=30
    )
    rep = forms.TypedChoiceField(label="Sales rep", coerce=int, required=False, empty_value=None)
    location = forms.CharField(
        max_length=500, required=False, help_text="An address, or a video-call link."
    )
    message_to_buyer = forms.CharField(
        label="Message to the buyer",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Goes into the buyer's email and calendar invitation.",
    )
    notes = forms.CharField(
        label="Internal notes — never sent to the buyer",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Seen in LeadFlow and by the people of your side who are invited.",
    )

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.reps = {m.user_id: m.user for m in reps}
        self.fields["rep"].choices = [("", "— assign later —")] + [
            (m.user_id, f"{m.user.full_name or m.user.email} ({m.get_role_display()})")
            for m in reps
        ]

    def clean_rep(self):
        user_id = self.cleaned_data.get("rep")
        return None if user_id is None else self.reps[user_id]


def bookable_reps() -> list[Membership]:
    """The tenant's own active reps, managers and admins: who may take the meeting."""
    return [
        m
        for m in member_list().filter(role__in=BOOKABLE_REP_ROLES, partner__isnull=True)
        if m.user.is_active
    ]


def _show_violation(request, form, exc: RuleViolation) -> None:
    """A service's refusal on the form field it names, else as a message above the page."""
    if exc.field in form.fields:
        form.add_error(exc.field, exc.message)
    else:
        messages.error(request, exc.message)


@require_POST
@member_page(*MARKETING)
def book_appointment_page(request, principal, pk: int):
    """Book the decision-maker's appointment; the inquiry becomes a lead for sales."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    form = AppointmentForm(request.POST, reps=bookable_reps())
    state = {"booking_form": form}
    if not form.is_valid():
        return render_inquiry_detail(request, principal, inquiry, state=state, status=400)
    try:
        lead = book_appointment(inquiry=inquiry, **form.cleaned_data, by=principal)
    except RuleViolation as exc:
        _show_violation(request, form, exc)
        status = 409 if exc.conflict else 400
        return render_inquiry_detail(request, principal, inquiry, state=state, status=status)
    messages.success(
        request,
        f"Appointment booked for {times.shown(form.cleaned_data['starts_at'])}: "
        f"{inquiry.display_name} is now lead #{lead.pk}, handed to sales.",
    )
    return redirect("inquiry-detail", pk=inquiry.pk)


@require_safe
@member_page(*MARKETING)
def appointment_invitation_page(request, principal, pk: int):
    """The appointment's calendar invitation as a file: the same one the buyer received."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    appointment = appointment_of(inquiry=inquiry)
    if appointment is None:
        raise Http404("This inquiry has no appointment.")
    response = HttpResponse(
        appointment_invitation(appointment=appointment),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="appointment-{inquiry.pk}.ics"'
    return response
