"""The value step of the import wizard: what each value of a choice-like column becomes.

Between the column mapping and the dry run: for every column mapped to a
field with a list of values (source, timeline, consent, country, the
outcome, a custom choice or yes/no field), the distinct values of the file
with their counts, each with a select pre-filled from the saved map or the
first guess. Saving calls ``set_value_mapping``; the saved mapping keeps it.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from inquiries.models import CustomField, CustomFieldKind, ImportJob, ImportStatus
from inquiries.selectors import imports as import_selectors
from inquiries.selectors.import_preview import distinct_values
from inquiries.services import imports as import_services
from inquiries.services.imports.values import (
    NEW_CHOICE,
    allowed_values,
    guess_value,
    value_target,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import MARKETING

UNDECIDED = "__keep__"


def value_columns(job: ImportJob) -> list[tuple[str, str]]:
    """(header, target) of the job's columns whose values are mapped one by one."""
    fields = {f.key: f for f in CustomField.objects.all()}
    columns = []
    for header in job.headers:
        target = value_target(job.mapping.get(header) or {}, fields)
        if target is not None:
            columns.append((header, target))
    return columns


def _table(job: ImportJob, posted=None) -> list[dict]:
    fields = {f.key: f for f in CustomField.objects.all()}
    columns = value_columns(job)
    found = distinct_values(job, [h for h, _t in columns])
    table = []
    for n, (header, target) in enumerate(columns):
        saved = job.mapping[header].get("values") or {}
        options = [(UNDECIDED, "— Keep as written (a warning if not allowed) —")]
        options += allowed_values(target, fields)
        field = fields.get(target.removeprefix("custom.")) if target.startswith("custom.") else None
        new_choice = field is not None and field.kind == CustomFieldKind.CHOICE
        values = []
        for m, (text, count) in enumerate(found.get(header, [])):
            name = f"v{n}_{m}"
            if posted is not None:
                chosen = posted.get(name, UNDECIDED)
            elif text in saved:
                chosen = saved[text]
            else:
                guess = guess_value(target, text, fields)
                chosen = UNDECIDED if guess is None else guess
            values.append({"name": name, "text": text, "count": count, "chosen": chosen})
        table.append(
            {
                "header": header,
                "target": target,
                "label": field.label if field else target.replace("_", " ").capitalize(),
                "options": options,
                "new_choice": new_choice,
                "values": values,
            }
        )
    return table


@require_http_methods(["GET", "POST"])
@member_page(*MARKETING)
def import_values_page(request, principal, pk: int):
    """Map the values found in the file; saving leads on to the dry run."""
    job = get_object_or_404(import_selectors.import_job_list(), pk=pk)
    if job.status != ImportStatus.ANALYSED:
        messages.info(request, "This import has started; its mapping can no longer change.")
        return redirect("import-detail", pk=job.pk)
    if request.method == "GET":
        context = {"job": job, "table": _table(job), "new_choice": NEW_CHOICE}
        return render(request, "inquiries/import_values.html", context)
    table = _table(job, posted=request.POST)
    values: dict[str, dict[str, str]] = {}
    for column in table:
        allowed = {value for value, _label in column["options"]}
        chosen = {}
        for value in column["values"]:
            if value["chosen"] == UNDECIDED:
                continue
            if value["chosen"] not in allowed and not (
                column["new_choice"] and value["chosen"] == NEW_CHOICE
            ):
                value["error"] = "Choose one of the listed values."
                continue
            chosen[value["text"]] = value["chosen"]
        values[column["header"]] = chosen
    errors = any("error" in v for column in table for v in column["values"])
    if not errors:
        try:
            import_services.set_value_mapping(job=job, values=values, by=principal)
        except RuleViolation as exc:
            messages.error(request, exc.message)
            errors = True
    if errors:
        context = {"job": job, "table": table, "new_choice": NEW_CHOICE, "failed": True}
        return render(request, "inquiries/import_values.html", context, status=400)
    messages.success(request, "Values mapped. Run the dry run to see what the import would do.")
    return redirect("import-detail", pk=job.pk)
