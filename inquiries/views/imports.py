"""Browser pages of the CSV import: upload, column mapping, dry run, the running job, its report.

Every view is thin: a form, one service call of ``inquiries.services.imports``,
a redirect with a message. A refusal (``RuleViolation``) is shown where it
happened — on the upload field, on the column of the mapping it names, or as a
message above the job — and nothing is written. Jobs are looked up within the
tenant, so another tenant's import is a 404 on every route.
"""

from __future__ import annotations

import csv

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from inquiries.models import (
    RECORDABLE_ACTIVITY_KINDS,
    CustomFieldKind,
    ImportJob,
    ImportStatus,
    Inquiry,
)
from inquiries.selectors import imports as import_selectors
from inquiries.selectors.import_preview import column_samples
from inquiries.selectors.inquiries import custom_field_list
from inquiries.services import imports as import_services
from inquiries.services.campaigns import create_missing_campaigns
from inquiries.services.validation import CELL_FIELDS
from inquiries.views.import_values import value_columns
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import EDITORS, MARKETING

PAGE_SIZE = 50
REPORT_PAGE_SIZE = 50
RUNNING = (ImportStatus.QUEUED, ImportStatus.RUNNING)
NEW_FIELD = "new"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def _job(pk: int) -> ImportJob:
    return get_object_or_404(import_selectors.import_job_list(), pk=pk)


# --- The list and the upload ---------------------------------------------------------


@require_safe
@member_page(*MARKETING)
def import_list_page(request, principal):
    """Every CSV import of the tenant, newest first, with where it stands."""
    page = Paginator(import_selectors.import_job_list(), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "inquiries/import_list.html", {"page": page})


class UploadForm(forms.Form):
    """The CSV file to import."""

    file = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,.txt,.tsv,text/csv,text/plain"}),
    )

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.fields["file"].widget.attrs["data-max-bytes"] = max_bytes
        self.fields["file"].help_text = (
            f"Comma, semicolon or tab separated, UTF-8 or Windows-1252, "
            f"up to {filesizeformat(max_bytes)}, with a header row."
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"The file is larger than {filesizeformat(self.max_bytes)}; split it and "
                "upload the parts."
            )
        return upload


@require_http_methods(["GET", "POST"])
@member_page(*MARKETING)
def import_new_page(request, principal):
    """Upload a CSV; LeadFlow reads its columns and suggests where each one goes."""
    max_bytes = settings.IMPORT_MAX_BYTES
    if request.method == "GET":
        form = UploadForm(max_bytes=max_bytes)
        return render(request, "inquiries/import_new.html", {"form": form})
    form = UploadForm(request.POST, request.FILES, max_bytes=max_bytes)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_services.analyse_upload(file=upload, file_name=upload.name, by=principal)
        except RuleViolation as exc:
            form.add_error("file", exc.message)
        else:
            messages.success(
                request,
                f"{job.file_name}: {job.total_rows} row{'s' if job.total_rows != 1 else ''} "
                f"in {len(job.headers)} columns. Check where each column goes.",
            )
            return redirect("import-mapping", pk=job.pk)
    return render(request, "inquiries/import_new.html", {"form": form}, status=400)


# --- The mapping -----------------------------------------------------------------------


def _target_choices(custom_fields) -> list:
    """What a column may fill, grouped as the mapping screen shows them."""
    standard = [
        (f"field:{name}", str(Inquiry._meta.get_field(name).verbose_name).capitalize())
        for name in CELL_FIELDS
    ]
    custom = [(f"custom:{field.key}", field.label) for field in custom_fields]
    activities = [(f"activity:{kind}", label) for kind, label in RECORDABLE_ACTIVITY_KINDS]
    return [
        ("ignore", "— Ignore this column —"),
        ("Standard field", standard),
        ("Custom field", [*custom, (NEW_FIELD, "+ New custom field…")]),
        ("Activity (the cell is its date and time)", activities),
        ("Campaign", [("campaign", "Campaign (by name)")]),
        (
            "Outcome",
            [
                ("outcome", "Outcome (won / lost / open)"),
                ("outcome_date", "Outcome close date"),
                ("outcome_value", "Outcome value"),
            ],
        ),
    ]


# Targets that are their own "to" (no field, key or kind after a colon).
OWN_TARGETS = ("outcome", "outcome_date", "outcome_value", "campaign")


def _target_of(spec: dict) -> str:
    """The select's value for a stored mapping entry."""
    to = spec.get("to")
    if to == "field":
        return f"field:{spec.get('field')}"
    if to == "custom":
        return f"custom:{spec.get('key')}"
    if to == "activity":
        return f"activity:{spec.get('kind')}"
    return to if to in OWN_TARGETS else "ignore"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _new_field_key(label: str) -> str:
    key = slugify(label).replace("-", "_")[:50].strip("_")
    return key if key[:1].isalpha() else f"field_{key}"[:50].strip("_")


class MappingForm(forms.Form):
    """Where each column of the file goes, the values meaning "empty", and a name to save it by."""

    placeholders = forms.CharField(
        label="Values that mean “empty”",
        required=False,
        max_length=2000,
        help_text="Separated by commas, e.g. Select, N/A, -. A cell holding one is left empty.",
    )
    save_as = forms.CharField(
        label="Save this mapping as",
        required=False,
        max_length=100,
        help_text="Optional: pick it again for the next file from the same tool.",
    )

    def __init__(self, *args, headers: list[str], custom_fields, **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        self.existing = {field.key: field.label for field in custom_fields}
        choices = _target_choices(custom_fields)
        for n, header in enumerate(headers):
            self.fields[f"c{n}"] = forms.ChoiceField(label=header, choices=choices)
            self.fields[f"c{n}_label"] = forms.CharField(
                label="Label", required=False, max_length=100
            )
            self.fields[f"c{n}_kind"] = forms.ChoiceField(
                label="Kind",
                choices=CustomFieldKind.choices,
                initial=CustomFieldKind.TEXT,
                required=False,
            )
            self.fields[f"c{n}_choices"] = forms.CharField(
                label="Choices", required=False, max_length=5000
            )
            self.fields[f"c{n}"].widget.attrs["data-mapping-target"] = f"c{n}"

    @staticmethod
    def initial_for(headers: list[str], mapping: dict, placeholders: list[str]) -> dict:
        initial = {"placeholders": ", ".join(placeholders)}
        for n, header in enumerate(headers):
            initial[f"c{n}"] = _target_of(mapping.get(header) or {})
        return initial

    def columns(self, samples: dict[str, list[str]]) -> list[dict]:
        """The rows of the mapping table: the column, its first values and its bound fields."""
        return [
            {
                "header": header,
                "samples": samples.get(header, []),
                "target": self[f"c{n}"],
                "label": self[f"c{n}_label"],
                "kind": self[f"c{n}_kind"],
                "choices": self[f"c{n}_choices"],
            }
            for n, header in enumerate(self.headers)
        ]

    def clean(self):
        cleaned = super().clean()
        for n, _header in enumerate(self.headers):
            if cleaned.get(f"c{n}") != NEW_FIELD:
                continue
            label = cleaned.get(f"c{n}_label", "").strip()
            if not label:
                self.add_error(f"c{n}_label", "Give the new custom field a label.")
            elif _new_field_key(label) in self.existing:
                existing = self.existing[_new_field_key(label)]
                self.add_error(
                    f"c{n}_label",
                    f"A custom field “{existing}” already exists; choose it in the list instead.",
                )
        return cleaned

    def mapping(self) -> dict[str, dict]:
        """The mapping JSON the service takes."""
        mapping = {}
        for n, header in enumerate(self.headers):
            target = self.cleaned_data[f"c{n}"]
            if target == NEW_FIELD:
                label = self.cleaned_data[f"c{n}_label"].strip()
                kind = self.cleaned_data[f"c{n}_kind"] or CustomFieldKind.TEXT
                create = {"label": label, "kind": kind}
                if kind == CustomFieldKind.CHOICE:
                    create["choices"] = _split(self.cleaned_data[f"c{n}_choices"])
                spec = {"to": "custom", "key": _new_field_key(label), "create": create}
            elif target == "ignore" or target in OWN_TARGETS:
                spec = {"to": target}
            else:
                to, _, value = target.partition(":")
                spec = {"to": to, {"field": "field", "custom": "key"}.get(to, "kind"): value}
            mapping[header] = spec
        return mapping

    def field_for(self, violation: RuleViolation) -> str | None:
        """The form field a service refusal belongs on (a column's select for ``mapping.<h>``)."""
        if violation.field in ("placeholders", "save_as"):
            return violation.field
        header = violation.field.removeprefix("mapping.")
        if header in self.headers:
            n = self.headers.index(header)
            new = self.cleaned_data.get(f"c{n}") == NEW_FIELD
            return f"c{n}_label" if new else f"c{n}"
        return None


def _render_mapping(request, job, form, *, status=200, saved=None):
    context = {
        "job": job,
        "form": form,
        "columns": form.columns(column_samples(job)),
        "saved_mappings": import_selectors.import_mapping_list(),
        "saved": saved,
    }
    return render(request, "inquiries/import_mapping.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_page(*MARKETING)
def import_mapping_page(request, principal, pk: int):
    """Say where each column goes; a saved mapping pre-fills the screen (``?saved=<id>``)."""
    job = _job(pk)
    if job.status != ImportStatus.ANALYSED:
        messages.info(request, "This import has started; its mapping can no longer change.")
        return redirect("import-detail", pk=job.pk)
    custom_fields = list(custom_field_list())
    if request.method == "GET":
        saved = None
        if request.GET.get("saved", "").isdigit():
            saved = get_object_or_404(
                import_selectors.import_mapping_list(), pk=int(request.GET["saved"])
            )
        source = saved or job
        initial = MappingForm.initial_for(job.headers, source.mapping, source.placeholders)
        if saved:
            initial["save_as"] = saved.name
        form = MappingForm(headers=job.headers, custom_fields=custom_fields, initial=initial)
        return _render_mapping(request, job, form, saved=saved)
    form = MappingForm(request.POST, headers=job.headers, custom_fields=custom_fields)
    if not form.is_valid():
        return _render_mapping(request, job, form, status=400)
    try:
        import_services.set_mapping(
            job=job,
            mapping=form.mapping(),
            placeholders=_split(form.cleaned_data["placeholders"]),
            save_as=form.cleaned_data["save_as"],
            by=principal,
        )
    except RuleViolation as exc:
        form.add_error(form.field_for(exc), exc.message)
        return _render_mapping(request, job, form, status=409 if exc.conflict else 400)
    job.refresh_from_db()
    if value_columns(job):
        messages.success(request, "Columns saved. Now say what the values in them become.")
        return redirect("import-values", pk=job.pk)
    messages.success(request, "Mapping saved. Run the dry run to see what the import would do.")
    return redirect("import-detail", pk=job.pk)


# --- The job: dry run, start, cancel, progress, report -------------------------------------


def _progress(job: ImportJob) -> dict:
    """Rows a second and the time left in words, while the job runs."""
    progress = import_selectors.progress_of(job)
    left = progress.seconds_left
    if left is None:
        shown = None
    elif left < 60:
        shown = f"{left} s"
    elif left < 3600:
        shown = f"{left // 60} min {left % 60} s"
    else:
        shown = f"{left // 3600} h {left % 3600 // 60} min"
    return {"rate": progress.rows_per_second, "left": shown}


def _dry_run(job: ImportJob, principal) -> dict:
    """Where the dry run stands ("" for none yet), and whether a worker is still at it."""
    state = job.dry_run or {}
    # A result stored before dry runs became a background job has counts but no state.
    shown = state.get("state", "done" if state else "")
    return {
        "missing_campaigns": (state.get("missing_campaigns") or []) if shown == "done" else [],
        "may_create_campaigns": principal.has_role(*EDITORS),
        "dry_run_state": shown,
        "dry_run_busy": import_services.dry_run_busy(job),
        "dry_run_nothing": import_services.dry_run_found_nothing(job),
    }


@require_safe
@member_page(*MARKETING)
def import_detail_page(request, principal, pk: int):
    """One import: its file and mapping, the dry run, the progress, and the per-row report."""
    job = _job(pk)
    errors = None
    if job.status not in (ImportStatus.ANALYSED, *RUNNING):
        errors = Paginator(import_selectors.import_errors(job), REPORT_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    labels = {field.key: field.label for field in custom_field_list()}
    context = {
        "job": job,
        "mapped": _mapped_columns(job, labels),
        "delimiter": DELIMITER_NAMES.get(job.delimiter, job.delimiter),
        "progress": _progress(job),
        **_dry_run(job, principal),
        "errors": errors,
        "page": errors,
    }
    return render(request, "inquiries/import_detail.html", context)


def _mapped_columns(job: ImportJob, custom_labels: dict[str, str]) -> list[tuple[str, str]]:
    """Each column that is not ignored, with what it fills in words."""
    activity_labels = dict(RECORDABLE_ACTIVITY_KINDS)
    shown = []
    for header in job.headers:
        spec = job.mapping.get(header) or {"to": "ignore"}
        to = spec.get("to")
        if to == "field":
            name = spec.get("field", "")
            target = str(Inquiry._meta.get_field(name).verbose_name).capitalize()
        elif to == "custom":
            target = f"Custom field: {custom_labels.get(spec.get('key'), spec.get('key'))}"
        elif to == "activity":
            target = f"Activity: {activity_labels.get(spec.get('kind'), spec.get('kind'))}"
        elif to == "outcome":
            target = "Outcome"
        elif to == "campaign":
            target = "Campaign"
        else:
            continue
        shown.append((header, target))
    return shown


@require_POST
@member_page(*MARKETING)
def import_dry_run_page(request, principal, pk: int):
    """Queue the dry run; the job page follows it and then shows the counts and first errors."""
    job = _job(pk)
    try:
        job = import_services.request_dry_run(job=job, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Dry run queued: checking {job.total_rows} rows. Nothing is written."
        )
    return redirect("import-detail", pk=job.pk)


@require_POST
@member_page(*EDITORS)
def import_create_campaigns_page(request, principal, pk: int):
    """Create the campaigns the dry run found missing, then run the dry run again."""
    job = _job(pk)
    names = (job.dry_run or {}).get("missing_campaigns") or []
    try:
        made = create_missing_campaigns(names=names, by=principal)
        if job.status == ImportStatus.ANALYSED:
            job = import_services.request_dry_run(job=job, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        shown = ", ".join(f"“{c.name}”" for c in made) or "none (they exist already)"
        messages.success(
            request,
            f"Campaigns created: {shown}. The dry run runs again with them.",
        )
    return redirect("import-detail", pk=job.pk)


@require_safe
@member_page(*MARKETING)
def import_dry_run_progress_page(request, principal, pk: int):
    """The dry run's state: how far it has read, then its counts; the job page polls it."""
    job = _job(pk)
    return render(
        request, "inquiries/_import_dry_run.html", {"job": job, **_dry_run(job, principal)}
    )


@require_POST
@member_page(*MARKETING)
def import_start_page(request, principal, pk: int):
    """Start the real import; it runs in the background with a progress bar."""
    job = _job(pk)
    try:
        job = import_services.start_import(job=job, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Importing {job.total_rows} rows in the background.")
    return redirect("import-detail", pk=job.pk)


@require_POST
@member_page(*MARKETING)
def import_cancel_page(request, principal, pk: int):
    """Stop the import after the chunk being written; rows already written stay."""
    job = _job(pk)
    try:
        job = import_services.cancel_import(job=job, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        if job.status == ImportStatus.CANCELLED:
            messages.success(request, f"Import cancelled after {job.done_rows} rows.")
        else:
            messages.success(request, "Cancelling: the import stops after the rows being written.")
    return redirect("import-detail", pk=job.pk)


@require_safe
@member_page(*MARKETING)
def import_progress_page(request, principal, pk: int):
    """How far the import has come; the detail page polls it while the job runs."""
    job = _job(pk)
    return render(
        request,
        "inquiries/_import_progress.html",
        {"job": job, "progress": _progress(job)},
    )


class _Echo:
    """A file-like whose ``write`` hands back the line csv.writer produced, for streaming."""

    def write(self, value: str) -> str:
        return value


@require_safe
@member_page(*MARKETING)
def import_report_csv(request, principal, pk: int):
    """The per-row report as CSV (row, column, value, message); formula-like cells neutralised."""
    job = _job(pk)
    writer = csv.writer(_Echo())
    rows = import_selectors.report_csv_rows(job)
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    stem = slugify(job.file_name.rsplit(".", 1)[0]) or "import"
    response["Content-Disposition"] = f'attachment; filename="{stem}-report-{job.pk}.csv"'
    return response
