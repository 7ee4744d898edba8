"""The tenant's custom fields, and which of them the public form asks (admins and marketers)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from inquiries.selectors.inquiries import custom_field_list
from inquiries.selectors.rule_builder import custom_field_uses
from inquiries.services.custom_fields import (
    PUBLIC_FORM_EDITORS,
    delete_custom_field,
    rename_custom_field,
    set_custom_field_on_public_form,
    set_custom_field_required,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page


@require_safe
@member_page(*PUBLIC_FORM_EDITORS)
def custom_field_list_page(request, principal):
    """Every custom field of the tenant, with a switch for the public form."""
    fields = list(custom_field_list())
    uses = custom_field_uses()
    for field in fields:
        field.uses = uses.get(field.key, [])
    return render(
        request,
        "inquiries/custom_fields.html",
        {"fields": fields, "on_form": sum(field.on_public_form for field in fields)},
    )


@require_POST
@member_page(*PUBLIC_FORM_EDITORS)
def custom_field_public_form_page(request, principal, pk: int):
    """Put one field on the public form, or take it off."""
    field = get_object_or_404(custom_field_list(), pk=pk)
    wanted = request.POST.get("on_public_form")
    if wanted not in ("0", "1"):
        messages.error(request, "Choose whether the field is on the public form.")
        return redirect("custom-field-list")
    try:
        field = set_custom_field_on_public_form(
            field=field, on_public_form=wanted == "1", by=principal
        )
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        where = "now asked on" if field.on_public_form else "no longer on"
        messages.success(request, f"“{field.label}” is {where} the public form.")
    return redirect("custom-field-list")


@require_POST
@member_page(*PUBLIC_FORM_EDITORS)
def custom_field_rename_page(request, principal, pk: int):
    """Give a field a new label; its values and the rules reading it stay."""
    field = get_object_or_404(custom_field_list(), pk=pk)
    before = field.label
    try:
        field = rename_custom_field(field=field, label=request.POST.get("label", ""), by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{before}” is now “{field.label}”; its values stay.")
    return redirect("custom-field-list")


@require_POST
@member_page(*PUBLIC_FORM_EDITORS)
def custom_field_delete_page(request, principal, pk: int):
    """Remove a field no rule reads; otherwise say which rule does."""
    field = get_object_or_404(custom_field_list(), pk=pk)
    try:
        delete_custom_field(field=field, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{field.label}” was removed.")
    return redirect("custom-field-list")


@require_POST
@member_page(*PUBLIC_FORM_EDITORS)
def custom_field_required_page(request, principal, pk: int):
    """Make buyers answer a field on the public form, or let them skip it."""
    field = get_object_or_404(custom_field_list(), pk=pk)
    wanted = request.POST.get("required")
    if wanted not in ("0", "1"):
        messages.error(request, "Choose whether the field is required.")
        return redirect("custom-field-list")
    field = set_custom_field_required(field=field, required=wanted == "1", by=principal)
    state = "required" if field.required else "optional"
    messages.success(request, f"“{field.label}” is now {state} on the public form.")
    return redirect("custom-field-list")
