"""The tenant's custom fields, and which of them the public form asks (admins and marketers)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from inquiries.selectors.inquiries import custom_field_list
from inquiries.services.custom_fields import PUBLIC_FORM_EDITORS, set_custom_field_on_public_form
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page


@require_safe
@member_page(*PUBLIC_FORM_EDITORS)
def custom_field_list_page(request, principal):
    """Every custom field of the tenant, with a switch for the public form."""
    fields = list(custom_field_list())
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
