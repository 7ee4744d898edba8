"""``/leads/<id>/``: one lead — the buyer, the owner, the stage, the timeline and every action.

GET shows the page; POST carries ``action`` (accept, reject, qualify, won,
lost, postponed, reopen, next_step) and the action's fields, calls one service
and redirects back with a message. A refusal (``RuleViolation``) is shown on
the form field it names and nothing is written (400, or 409 for a conflict).
The lead is looked up among those the viewer may see (``lead_list``): another
rep's lead, or another tenant's, is a 404. Reps, managers, marketing, and
a partner's users (the portal: their partner's leads only, and an offer's
contact details hidden until they accept it). A POST may name a ``next``
page on this site to go back to (My week's accept button).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS, MARKETING
from leads.models import Lead, LeadStage, RejectKind
from leads.selectors.leads import contact_hidden, lead_list, visible_profile
from leads.selectors.settings import lead_settings
from leads.selectors.timeline import person_timeline
from leads.selectors.touches import owner_touch_count
from leads.services import lifecycle
from leads.services.closing import close_lead, reopen_lead
from leads.views.my_week import portal_page

PAGE_ROLES = (*MARKETING, Role.REP)
# Stages in which a lead was given up (the 4-touch cliff flags these).
GIVEN_UP = (LeadStage.LOST, LeadStage.POSTPONED)
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AcceptForm(forms.Form):
    pass


class RejectForm(forms.Form):
    kind = forms.ChoiceField(
        label="Why", choices=RejectKind.choices, widget=forms.RadioSelect, initial="not_a_lead"
    )
    reason = forms.CharField(
        label="Reason",
        max_length=lifecycle.MAX_REASON_LENGTH,
        required=False,
        help_text="Required for “not a lead”: marketing reads it before nurturing them again.",
    )


class QualifyForm(forms.Form):
    budget = forms.CharField(max_length=lifecycle.QUALIFY_LIMITS["budget"])
    authority = forms.CharField(
        max_length=lifecycle.QUALIFY_LIMITS["authority"], help_text="Who decides and signs."
    )
    need = forms.CharField(
        max_length=lifecycle.QUALIFY_LIMITS["need"], widget=forms.Textarea(attrs={"rows": 2})
    )
    timeline = forms.CharField(
        max_length=lifecycle.QUALIFY_LIMITS["timeline"], help_text="When they decide."
    )


class WonForm(forms.Form):
    value = forms.DecimalField(label="Deal value", max_digits=14, decimal_places=2, min_value=0)
    closed_on = forms.DateField(
        label="Closed on", required=False, widget=DATE_INPUT, help_text="Empty: today."
    )


class LostForm(forms.Form):
    lost_reason = forms.ChoiceField(label="Reason")
    not_now = forms.BooleanField(label="Not now — back to marketing's nurture", required=False)

    def __init__(self, *args: Any, reasons: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lost_reason"].choices = [("", "— choose —")] + [(r, r) for r in reasons]


class PostponeForm(forms.Form):
    postponed_until = forms.DateField(
        label="Back on", widget=DATE_INPUT, help_text="It comes back into your week that day."
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False, label="Why reopen")


class NextStepForm(forms.Form):
    on = forms.DateField(label="On", required=False, widget=DATE_INPUT)
    action = forms.CharField(
        label="Next step",
        max_length=lifecycle.MAX_NEXT_STEP_LENGTH,
        required=False,
        help_text="Both empty clears it.",
    )


FORMS: dict[str, type[forms.Form]] = {
    "accept": AcceptForm,
    "reject": RejectForm,
    "qualify": QualifyForm,
    "won": WonForm,
    "lost": LostForm,
    "postponed": PostponeForm,
    "reopen": ReopenForm,
    "next_step": NextStepForm,
}


def _allowed_actions(lead: Lead, principal: Principal) -> list[str]:
    """What the viewer may do with the lead now: the forms the page shows."""
    allowed = []
    if lead.is_open and lifecycle.may_act_on(lead, principal):
        owned = lead.rep_id is not None or lead.partner_id is not None
        if lead.stage == LeadStage.AWAITING_ACCEPTANCE:
            allowed += ["accept", "reject"] if owned else []
        if lead.stage == LeadStage.ACCEPTED:
            allowed.append("qualify")
        if lead.stage in (LeadStage.ACCEPTED, LeadStage.SQL):
            allowed += ["won", "lost", "postponed"]
        allowed.append("next_step")
    if not lead.is_open and principal.has_role(*MANAGERS):
        allowed.append("reopen")
    return allowed


def _make_form(name: str, data: Any = None, *, lead: Lead, reasons: list[str]) -> forms.Form:
    prefix = name
    if name == "lost":
        return LostForm(data, reasons=reasons, prefix=prefix)
    initial: dict[str, Any] = {}
    if name == "next_step":
        initial = {"on": lead.next_step_on, "action": lead.next_step}
    return FORMS[name](data, prefix=prefix, initial=initial)


def _perform(name: str, lead: Lead, data: dict[str, Any], principal: Principal) -> str:
    """Call the action's service; returns the message shown after it."""
    if name == "accept":
        lifecycle.accept_lead(lead=lead, by=principal)
        return "Lead accepted: it is in your week now."
    if name == "reject":
        lifecycle.reject_lead(lead=lead, kind=data["kind"], reason=data["reason"], by=principal)
        if data["kind"] == RejectKind.NOT_A_LEAD:
            return "Lead rejected: the person is back in marketing's nurture."
        return "Lead handed back: a manager gives it to someone else."
    if name == "qualify":
        lifecycle.qualify_lead(lead=lead, **data, by=principal)
        return "Lead qualified (SQL)."
    if name in ("won", "lost", "postponed"):
        close_lead(lead=lead, stage=name, by=principal, **data)
        return f"Lead closed as {LeadStage(name).label.lower()}."
    if name == "reopen":
        reopen_lead(lead=lead, by=principal, reason=data["reason"])
        return "Lead reopened: it is accepted again, with its owner."
    lifecycle.set_next_step(lead=lead, on=data["on"], action=data["action"], by=principal)
    return "Next step saved." if data["action"] else "Next step cleared."


def _done(request, principal: Principal, lead: Lead) -> HttpResponse:
    """After an action: back to ``next`` when it is a page of this site, else the lead —
    or My week when the viewer no longer sees the lead (they handed it back)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    if not lead_list(principal=principal).filter(pk=lead.pk).exists():
        return redirect("my-week")
    return redirect("lead-detail", pk=lead.pk)


@portal_page(*PAGE_ROLES)
def lead_detail_page(request, principal: Principal, pk: int) -> HttpResponse:
    lead = get_object_or_404(
        lead_list(principal=principal).select_related("inquiry", "appointment__booked_by"), pk=pk
    )
    rules = lead_settings()
    allowed = _allowed_actions(lead, principal)
    bound: dict[str, forms.Form] = {}
    status = 200
    if request.method == "POST":
        name = request.POST.get("action", "")
        if name not in FORMS:
            messages.error(request, "Unknown action.")
            return redirect("lead-detail", pk=lead.pk)
        if name not in allowed:
            messages.error(request, "You cannot do that with this lead now.")
            return render_lead(request, principal, lead, rules, allowed, {}, status=409)
        form = _make_form(name, request.POST, lead=lead, reasons=rules.lost_reasons)
        bound[name] = form
        if form.is_valid():
            try:
                done = _perform(name, lead, dict(form.cleaned_data), principal)
            except RuleViolation as exc:
                if exc.field in form.fields:
                    form.add_error(exc.field, exc.message)
                else:
                    form.add_error(None, exc.message)
                status = 409 if exc.conflict else 400
            else:
                messages.success(request, done)
                return _done(request, principal, lead)
        else:
            status = 400
    return render_lead(request, principal, lead, rules, allowed, bound, status=status)


def render_lead(
    request,
    principal: Principal,
    lead: Lead,
    rules: Any,
    allowed: list[str],
    bound: dict[str, forms.Form],
    *,
    status: int = 200,
) -> HttpResponse:
    forms_by_name = {
        name: bound.get(name) or _make_form(name, lead=lead, reasons=rules.lost_reasons)
        for name in allowed
    }
    touches = owner_touch_count(lead)
    hidden = contact_hidden(lead, principal)
    context = {
        # The partner portal: an offer shows no contact details (nor the person's history).
        "portal": principal.is_partner,
        "contact_hidden": hidden,
        "shown": visible_profile(lead, principal) if hidden else {},
        "lead": lead,
        "inquiry": lead.inquiry,
        "principal": principal,
        "settings": rules,
        "forms": forms_by_name,
        "open_form": next(iter(bound), ""),
        "timeline": [] if hidden else person_timeline(inquiry=lead.inquiry, principal=principal),
        "touches": touches,
        "touches_flagged": lead.stage in GIVEN_UP and touches <= rules.touch_cliff,
        "currency": principal.tenant.currency,
    }
    return render(request, "leads/lead_detail.html", context, status=status)
