"""The tenant's custom fields, and which of them the public form asks (admins and marketers)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from inquiries.models import CustomFieldKind
from inquiries.selectors.inquiries import choice_counts, custom_field_list
from inquiries.selectors.rule_builder import custom_field_uses
from inquiries.services.custom_fields import (
    PUBLIC_FORM_EDITORS,
    change_custom_field_choices,
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


def _choice_form(request) -> tuple[list[str], dict[str, str], bool]:
    """The posted choices in order, the renames among them and the open-choices box.

    Each current choice comes back as ``original_<i>`` (hidden) and
    ``choice_<i>`` (its text, edited or not) with ``remove_<i>`` ticked to
    remove it; ``add`` holds new choices, one a line. An emptied text removes
    the choice, as the box does.
    """
    choices: list[str] = []
    renames: dict[str, str] = {}
    index = 0
    while f"original_{index}" in request.POST:
        original = request.POST[f"original_{index}"]
        text = request.POST.get(f"choice_{index}", "").strip()
        if text and not request.POST.get(f"remove_{index}"):
            choices.append(text)
            if text != original:
                renames[original] = text
        index += 1
    choices += [line.strip() for line in request.POST.get("add", "").splitlines() if line.strip()]
    return choices, renames, request.POST.get("open_choices") == "1"


@member_page(*PUBLIC_FORM_EDITORS)
def custom_field_choices_page(request, principal, pk: int):
    """Edit a choice field's choices: rename (values follow), remove (if unused), add, open."""
    field = get_object_or_404(custom_field_list(), pk=pk, kind=CustomFieldKind.CHOICE)
    error = None
    if request.method == "POST":
        choices, renames, open_choices = _choice_form(request)
        try:
            change_custom_field_choices(
                field=field,
                choices=choices,
                renames=renames,
                open_choices=open_choices,
                by=principal,
            )
        except RuleViolation as exc:
            error = exc.message
        else:
            messages.success(request, f"The choices of “{field.label}” are saved.")
            return redirect("custom-field-choices", pk=field.pk)
    held = choice_counts(field)
    rows = [(choice, held.get(choice, 0)) for choice in field.choices]
    others = sum(n for value, n in held.items() if value not in field.choices)
    return render(
        request,
        "inquiries/custom_field_choices.html",
        {"field": field, "rows": rows, "others": others, "error": error},
        status=400 if error else 200,
    )
