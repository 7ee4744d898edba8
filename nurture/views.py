"""Browser pages of nurture: programs, a program's enrollments, settings; unsubscribe; bounces.

The unsubscribe page and the Mailgun webhook are for people and machines
outside LeadFlow: no login, no session, no CSRF token (the link's signature
and the webhook's HMAC are what authenticate them).
"""

from __future__ import annotations

import json
import re

from csp.decorators import csp_replace
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from inquiries.models import BehaviourLevel, Inquiry, Source
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role, Tenant
from nurture import links, selectors
from nurture.models import (
    ConsentMode,
    ConsentStatus,
    ContactConsent,
    Enrollment,
    EnrollmentState,
    NurtureProgram,
    NurtureStep,
    StepKind,
)
from nurture.services import bounces, builder, consent
from nurture.services import enrollment as enrollment_services
from nurture.services import preview as preview_services
from nurture.services import programs as program_services
from nurture.services import settings as settings_services
from nurture.services.enrollment import REASONS

READERS = (Role.ADMIN, Role.MARKETER, Role.QUALIFIER)
WRITERS = (Role.ADMIN, Role.MARKETER)


def _principal(request, roles=READERS):
    principal = request.principal
    if principal is None:
        raise Http404("You are not a member of any tenant.")
    if principal.is_partner or not principal.has_role(*roles):
        raise PermissionDenied
    return principal


@login_required
def program_list(request):
    """The programs in the order enrollment tries them, and anyone in nurture but in none."""
    principal = _principal(request)
    program_services.long_term_program()
    dropped = list(selectors.unenrolled_nurture_inquiries()[:50])
    return render(
        request,
        "nurture/programs.html",
        {
            "programs": list(selectors.programs()),
            "dropped": dropped,
            "can_change": principal.has_role(*WRITERS),
        },
    )


class EnrollForm(forms.Form):
    inquiry_ids = forms.CharField(
        label="Inquiry ids",
        help_text="One or more ids, separated by commas or spaces.",
        max_length=10000,
    )

    def clean_inquiry_ids(self) -> list[int]:
        parts = [p for p in re.split(r"[\s,]+", self.cleaned_data["inquiry_ids"]) if p]
        if not parts or not all(p.isdigit() and 1 <= int(p) <= 2**31 - 1 for p in parts):
            raise forms.ValidationError("Enter inquiry ids (whole numbers).")
        if len(parts) > 1000:
            raise forms.ValidationError("At most 1,000 at a time.")
        return [int(p) for p in parts]


@login_required
def program_detail(request, pk: int):
    """A program's steps and its enrollments (state, next step, due time), 50 a page."""
    principal = _principal(request)
    program = get_object_or_404(NurtureProgram.objects.all(), pk=pk)
    form = EnrollForm()
    if request.method == "POST":
        _principal(request, WRITERS)
        form = EnrollForm(request.POST)
        if form.is_valid():
            try:
                result = enrollment_services.enroll_by_hand(
                    inquiry_ids=form.cleaned_data["inquiry_ids"], program=program, by=principal
                )
            except RuleViolation as exc:
                form.add_error("inquiry_ids", exc.message)
            else:
                messages.success(request, f"{len(result.enrolled)} enrolled in {program.name}.")
                return redirect("nurture-program", pk=program.pk)
    steps = selectors.program_steps(program)
    by_position = {step.position: step for step in steps}
    page = Paginator(selectors.enrollments(program_id=program.pk), 50).get_page(
        request.GET.get("page")
    )
    for enrollment in page.object_list:
        enrollment.next_step = by_position.get(enrollment.position)
    return render(
        request,
        "nurture/program_detail.html",
        {
            "program": program,
            "steps": steps,
            "page": page,
            "form": form,
            "can_change": principal.has_role(*WRITERS),
            "funnel": selectors.program_funnel(program).as_rows(),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def program_pause(request, pk: int, change: str):
    principal = _principal(request, WRITERS)
    program = get_object_or_404(NurtureProgram.objects.all(), pk=pk)
    if change not in ("pause", "resume"):
        raise Http404
    program_services.set_program_paused(program=program, paused=change == "pause", by=principal)
    messages.success(request, f"{program.name} is {'paused' if change == 'pause' else 'running'}.")
    return redirect("nurture-program", pk=program.pk)


@login_required
@require_POST
def inquiry_enroll(request, inquiry_id: int):
    """The inquiry panel's "Enroll in <program>": the same service as the program page's form."""
    principal = _principal(request, WRITERS)
    inquiry = get_object_or_404(Inquiry.objects.all(), pk=inquiry_id)
    raw = request.POST.get("program", "")
    program = None
    if raw.isdigit() and 1 <= int(raw) <= 2**31 - 1:
        program = NurtureProgram.objects.filter(pk=int(raw)).first()
    if program is None:
        messages.error(request, "Choose a nurture program.")
        return redirect("inquiry-detail", pk=inquiry.pk)
    try:
        enrollment_services.enroll_by_hand(inquiry_ids=[inquiry.pk], program=program, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Enrolled in {program.name}.")
    return redirect("inquiry-detail", pk=inquiry.pk)


@login_required
@require_POST
def inquiry_remove(request, inquiry_id: int):
    """The inquiry panel's "Remove from nurture": out of the program, into the long-term one."""
    principal = _principal(request, WRITERS)
    inquiry = get_object_or_404(Inquiry.objects.all(), pk=inquiry_id)
    current = (
        Enrollment.objects.select_related("program")
        .filter(inquiry=inquiry, state=EnrollmentState.ACTIVE)
        .first()
    )
    if current is None:
        messages.error(request, "Not in a nurture program.")
        return redirect("inquiry-detail", pk=inquiry.pk)
    try:
        replacement = enrollment_services.remove_from_program(enrollment=current, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        where = replacement.program.name if replacement is not None else "no program"
        messages.success(request, f"Removed from {current.program.name}; now in {where}.")
    return redirect("inquiry-detail", pk=inquiry.pk)


class SettingsForm(forms.Form):
    from_name = forms.CharField(max_length=200, required=False)
    from_address = forms.EmailField(required=False)
    reply_to = forms.EmailField(required=False)
    postal_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Shown in the footer of every nurture email.",
    )
    consent_mode = forms.ChoiceField(choices=ConsentMode.choices)
    cap_emails = forms.IntegerField(min_value=1, max_value=100, label="At most … emails")
    cap_days = forms.IntegerField(min_value=1, max_value=365, label="… per this many days")
    window_start = forms.TimeField(label="Send from (tenant time)")
    window_end = forms.TimeField(label="Send until (tenant time)")
    throttle_per_minute = forms.IntegerField(min_value=1, max_value=100000)
    double_opt_in = forms.BooleanField(
        required=False,
        label="Double opt-in for the public form",
        help_text="Public-form opt-ins get one email with a link to confirm; "
        "nurture mails them only once they have confirmed.",
    )
    dkim_selector = forms.CharField(max_length=63, required=False)
    dkim_domain = forms.CharField(max_length=253, required=False)
    dkim_private_key = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="PEM; leave empty to keep the current key. Never shown again.",
    )
    track_opens = forms.BooleanField(
        required=False,
        label="Track opens",
        help_text="Adds a 1×1 image to each email to note when it is opened. Off by default: "
        "image proxies open every email, so clicks are the signal; opens are never scored.",
    )


@login_required
def settings_page(request):
    """Sender, consent mode, frequency cap, send window, throttle and DKIM."""
    principal = _principal(request, WRITERS)
    config = selectors.nurture_settings()
    initial = {name: getattr(config, name) for name in settings_services.FIELDS}
    initial["dkim_private_key"] = ""
    form = SettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        if not changes["dkim_private_key"]:
            changes.pop("dkim_private_key")
        try:
            settings_services.update_nurture_settings(changes=changes, by=principal)
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Nurture settings saved.")
            return redirect("nurture-settings")
    return render(
        request,
        "nurture/settings.html",
        {"form": form, "dkim_configured": bool(config.dkim_private_key)},
        status=400 if form.errors else 200,
    )


def _consent_for(token: str, *, salt: str = links.UNSUBSCRIBE_SALT) -> ContactConsent:
    read = links.read_token(token, salt=salt)
    if read is None:
        raise Http404("This unsubscribe link is not valid.")
    tenant = Tenant.objects.filter(slug=read.tenant_slug).first()
    if tenant is None:
        raise Http404("This unsubscribe link is not valid.")
    with tenant_context(tenant):
        row = (
            ContactConsent.objects.select_related("inquiry")
            .filter(token=read.contact_token)
            .first()
        )
    if row is None:
        raise Http404("This unsubscribe link is not valid.")
    return row


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET: a confirmation page (never unsubscribes: scanners follow links). POST: unsubscribe.

    The POST is both the page's button and RFC 8058's one-click
    (``List-Unsubscribe=One-Click``): no cookie, session or CSRF token is
    needed, and it takes effect before the response.
    """
    row = _consent_for(token)
    with tenant_context(row.tenant_id):
        tenant = Tenant.objects.get(pk=row.tenant_id)
        sender = selectors.nurture_settings().from_name or tenant.name
        if request.method == "POST":
            consent.unsubscribe(consent=row)
            return render(request, "nurture/unsubscribed.html", {"sender": sender})
    return render(
        request,
        "nurture/unsubscribe.html",
        {"sender": sender, "already": row.status == ConsentStatus.OPTED_OUT},
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    """The double opt-in's link. GET: a page with a button (scanners follow links). POST: opted in.

    Like the unsubscribe page, for the contact: no login, session or CSRF token;
    the link's signature is what authenticates it, and a changed link is a 404.
    """
    try:
        row = _consent_for(token, salt=links.CONFIRM_SALT)
    except Http404:
        raise Http404("This confirmation link is not valid.") from None
    with tenant_context(row.tenant_id):
        tenant = Tenant.objects.get(pk=row.tenant_id)
        sender = selectors.nurture_settings().from_name or tenant.name
        if request.method == "POST" and row.status == ConsentStatus.PENDING:
            consent.confirm(consent=row)
            return render(request, "nurture/confirmed.html", {"sender": sender})
    return render(
        request,
        "nurture/confirm.html",
        {
            "sender": sender,
            "pending": row.status == ConsentStatus.PENDING,
            "text": consent.CONFIRM_TEXT,
        },
    )


@csrf_exempt
@require_POST
def mailgun_webhook(request, tenant_slug: str):
    """Mailgun's signed event webhook: hard bounces and complaints suppress the contact."""
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("signature"), dict):
        return JsonResponse({"detail": "No signature."}, status=400)
    try:
        bounces.verify_signature(body["signature"])
    except bounces.BadSignature:
        return JsonResponse({"detail": "The signature is not valid."}, status=403)
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    if tenant is None:
        raise Http404
    event_data = body.get("event-data")
    if not isinstance(event_data, dict):
        return JsonResponse({"detail": "No event-data."}, status=400)
    with tenant_context(tenant):
        result = bounces.process_mailgun_event(event_data)
    return JsonResponse({"event": result.event, "action": result.action})


# --- The program builder (issue 20): a program's fields, audience, steps; preview, test send.

REASON_CHOICES = [(reason, reason.replace("_", " ").capitalize()) for reason in REASONS]


class ProgramForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )
    industry = forms.CharField(
        required=False,
        max_length=2000,
        label="Industries",
        help_text="Separated by commas; empty: every industry.",
    )
    behaviour_level = forms.MultipleChoiceField(
        choices=BehaviourLevel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Behaviour levels",
        help_text="None ticked: every level.",
    )
    source = forms.MultipleChoiceField(
        choices=Source.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Sources",
        help_text="None ticked: every source.",
    )
    reason = forms.MultipleChoiceField(
        choices=REASON_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Why they reached nurture",
        help_text="None ticked: every reason.",
    )

    def audience(self) -> dict[str, list[str]]:
        data = self.cleaned_data
        industries = [i.strip() for i in data.get("industry", "").split(",") if i.strip()]
        rule = {
            "industry": industries,
            "behaviour_level": data.get("behaviour_level") or [],
            "source": data.get("source") or [],
            "reason": data.get("reason") or [],
        }
        return {key: values for key, values in rule.items() if values}


def _program_initial(program: NurtureProgram) -> dict:
    audience = program.audience or {}
    return {
        "name": program.name,
        "description": program.description,
        "industry": ", ".join(audience.get("industry", [])),
        "behaviour_level": audience.get("behaviour_level", []),
        "source": audience.get("source", []),
        "reason": audience.get("reason", []),
    }


class StepForm(forms.Form):
    kind = forms.ChoiceField(choices=StepKind.choices)
    subject = forms.CharField(
        max_length=200,
        required=False,
        help_text="An email's subject, or a task's title. Merge fields: "
        + ", ".join("{{ " + f + " }}" for f in builder.MERGE_FIELDS[:-1])
        + ".",
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        max_length=20000,
        help_text="An email's text. It must contain {{ unsubscribe_url }}; the footer with "
        "your postal address is added.",
    )
    wait_days = forms.IntegerField(min_value=0, max_value=365, initial=0, label="Days")
    wait_minutes = forms.IntegerField(
        min_value=0, max_value=1439, initial=0, label="Minutes", required=False
    )
    branch_to = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="On a click, go to step",
        help_text="A branch: who clicked a nurture email within the days above goes there; "
        "the others go on at the next step.",
    )

    def __init__(self, *args, count: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch_to"].choices = [("", "—")] + [
            (str(i), f"Step {i + 1}") for i in range(count)
        ]

    def step_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["wait_minutes"] = data.get("wait_minutes") or 0
        return data


def _steps_context(program: NurtureProgram) -> list[NurtureStep]:
    steps = selectors.program_steps(program)
    return steps


def _builder_page(request, program, form, step_form, status=200):
    steps = _steps_context(program)
    return render(
        request,
        "nurture/builder.html",
        {
            "program": program,
            "form": form,
            "step_form": step_form,
            "steps": steps,
            "audience_count": builder.audience_count(program.audience or {}),
        },
        status=status,
    )


def _add_error(form: forms.Form, exc: RuleViolation) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
def builder_new(request):
    """A new program: its name and audience; steps are added on the builder page next."""
    principal = _principal(request, WRITERS)
    form = ProgramForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            program = builder.create_program(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                audience=form.audience(),
                by=principal,
            )
        except RuleViolation as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"{program.name} created: add its steps.")
            return redirect("nurture-builder", pk=program.pk)
    return render(
        request,
        "nurture/builder_new.html",
        {"form": form, "audience_count": builder.audience_count({})},
        status=400 if form.errors else 200,
    )


@login_required
def builder_edit(request, pk: int):
    """The builder: the program's name and audience (with its live count) and its steps."""
    principal = _principal(request, WRITERS)
    program = get_object_or_404(NurtureProgram.objects.all(), pk=pk)
    form = ProgramForm(request.POST or None, initial=_program_initial(program))
    step_form = StepForm(count=len(selectors.program_steps(program)) + 1)
    if request.method == "POST" and form.is_valid():
        try:
            builder.update_program(
                program=program,
                changes={
                    "name": form.cleaned_data["name"],
                    "description": form.cleaned_data["description"],
                    "audience": form.audience(),
                },
                by=principal,
            )
        except RuleViolation as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"{program.name} saved.")
            return redirect("nurture-builder", pk=program.pk)
    return _builder_page(request, program, form, step_form, 400 if form.errors else 200)


@login_required
def builder_audience_count(request, pk: int | None = None):
    """The live count for the audience fields as they are now in the form (nothing saved)."""
    _principal(request, WRITERS)
    if pk is not None:
        get_object_or_404(NurtureProgram.objects.all(), pk=pk)
    form = ProgramForm(request.GET)
    form.is_valid()
    count = None
    error = ""
    if not any(name in form.errors for name in ("industry", "behaviour_level", "source", "reason")):
        try:
            count = builder.audience_count(form.audience())
        except RuleViolation as exc:
            error = exc.message
    else:
        error = "Check the audience fields."
    return render(
        request, "nurture/_audience_count.html", {"audience_count": count, "error": error}
    )


@login_required
@require_POST
def builder_add_step(request, pk: int):
    principal = _principal(request, WRITERS)
    program = get_object_or_404(NurtureProgram.objects.all(), pk=pk)
    count = len(selectors.program_steps(program))
    step_form = StepForm(request.POST, count=count + 1)
    if step_form.is_valid():
        try:
            builder.add_step(program=program, step=step_form.step_fields(), by=principal)
        except RuleViolation as exc:
            _add_error(step_form, exc)
        else:
            messages.success(request, f"Step {count + 1} added.")
            return redirect("nurture-builder", pk=program.pk)
    form = ProgramForm(initial=_program_initial(program))
    return _builder_page(request, program, form, step_form, 400)


def _step_of(pk: int, step_pk: int) -> NurtureStep:
    return get_object_or_404(
        NurtureStep.objects.select_related("program"), pk=step_pk, program_id=pk
    )


@login_required
def builder_step(request, pk: int, step_pk: int):
    """One step: its fields; an email's preview at desktop and phone width, and a test send."""
    principal = _principal(request, WRITERS)
    step = _step_of(pk, step_pk)
    count = len(selectors.program_steps(step.program))
    initial = {name: getattr(step, name) for name in builder.STEP_FIELDS}
    form = StepForm(request.POST or None, initial=initial, count=count)
    if request.method == "POST" and form.is_valid():
        try:
            builder.update_step(step=step, changes=form.step_fields(), by=principal)
        except RuleViolation as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Step {step.position + 1} saved.")
            return redirect("nurture-builder-step", pk=pk, step_pk=step.pk)
    sample = preview_services.sample_inquiry()
    return render(
        request,
        "nurture/builder_step.html",
        {
            "program": step.program,
            "step": step,
            "form": form,
            "sample": sample,
            "merge_fields": builder.MERGE_FIELDS,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def builder_move_step(request, pk: int, step_pk: int):
    """The up/down buttons (plain forms: they work without JavaScript)."""
    principal = _principal(request, WRITERS)
    step = _step_of(pk, step_pk)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        messages.error(request, "Move a step up or down.")
    else:
        builder.move_step(step=step, offset=offset, by=principal)
    return redirect(f"{reverse('nurture-builder', args=[pk])}#step-{step.pk}")


@login_required
@require_POST
def builder_reorder(request, pk: int):
    """Drag and drop's order (step ids, comma-separated); the page reloads after."""
    principal = _principal(request, WRITERS)
    program = get_object_or_404(NurtureProgram.objects.all(), pk=pk)
    raw = [p for p in request.POST.get("order", "").split(",") if p.strip()]
    if not raw or not all(p.strip().isdigit() and int(p) <= 2**31 - 1 for p in raw):
        messages.error(request, "Name the steps in their new order.")
        return redirect("nurture-builder", pk=program.pk)
    try:
        builder.reorder_steps(program=program, order=[int(p) for p in raw], by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Steps reordered.")
    return redirect("nurture-builder", pk=program.pk)


@login_required
@require_POST
def builder_delete_step(request, pk: int, step_pk: int):
    principal = _principal(request, WRITERS)
    step = _step_of(pk, step_pk)
    try:
        builder.delete_step(step=step, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Step {step.position + 1} deleted.")
    return redirect("nurture-builder", pk=pk)


def _sample_from(request) -> Inquiry:
    raw = request.GET.get("inquiry") or request.POST.get("inquiry") or ""
    if raw.isdigit() and int(raw) <= 2**31 - 1:
        return preview_services.sample_inquiry(int(raw))
    return preview_services.sample_inquiry()


@xframe_options_sameorigin
@csp_replace(
    {
        "default-src": ["'none'"],
        "script-src": ["'none'"],
        "connect-src": ["'none'"],
        "font-src": ["'none'"],
        "style-src": ["'unsafe-inline'"],
        "img-src": ["data:", "https:"],
        "frame-ancestors": ["'self'"],
        "sandbox": [""],
    }
)
@login_required
def builder_preview(request, pk: int, step_pk: int):
    """The email's HTML for the preview frames: no script may run in it (sandboxed)."""
    _principal(request, WRITERS)
    step = _step_of(pk, step_pk)
    try:
        shown = preview_services.render_step(step=step, inquiry=_sample_from(request))
    except RuleViolation as exc:
        return HttpResponse(exc.message, content_type="text/plain; charset=utf-8", status=400)
    return HttpResponse(shown.html, content_type="text/html; charset=utf-8")


@login_required
@require_POST
def builder_send_test(request, pk: int, step_pk: int):
    """ "Send a test to me": the rendered email to the signed-in person, subject "[Test] …"."""
    principal = _principal(request, WRITERS)
    step = _step_of(pk, step_pk)
    try:
        message = preview_services.send_test(step=step, inquiry=_sample_from(request), by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"A test is on its way to {message.recipient}.")
    return redirect("nurture-builder-step", pk=pk, step_pk=step.pk)


# --- Tracked links (no login, no session: the token's signature authenticates them) ---------

# A transparent 1×1 GIF.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@require_http_methods(["GET", "HEAD"])
def tracked_click(request, token: str):
    """``/r/<token>/``: record the click (once per window), then 302 to the email's address.

    A changed, expired or unknown token is a 404 page and no redirect: the
    target is only ever an address signed into an email by LeadFlow.
    """
    from django.http import HttpResponseRedirect

    from nurture.services import tracking

    tracked = links.read_tracked(token, salt=links.CLICK_SALT)
    if tracked is None or tracking.record_click(tracked) is None:
        raise Http404("This link is not valid.")
    response = HttpResponseRedirect(tracked.url)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "HEAD"])
def tracked_open(request, token: str):
    """``/o/<token>.gif``: a 1×1 image; notes the send's first open when the tenant tracks opens."""
    from django.http import HttpResponse

    from nurture.services import tracking

    tracked = links.read_tracked(token, salt=links.OPEN_SALT)
    if tracked is None or tracking.record_open(tracked) is None:
        raise Http404("This image is not valid.")
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, private"
    return response
