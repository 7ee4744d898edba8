"""``/api/v1/inquiries/imports/``: upload a CSV, map its columns, dry run, run, follow, cancel."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from inquiries.api.serializers import StrictSerializer
from inquiries.models import ImportJob, ImportMapping, ImportOutcome, ImportRowError
from inquiries.selectors.imports import (
    import_errors,
    import_job_list,
    import_mapping_list,
    progress_of,
    report_csv_rows,
)
from inquiries.services import imports as import_services
from leadflow.lib.parsers import JSONParser
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MARKETING


class ImportJobOutput(serializers.ModelSerializer):
    percent = serializers.IntegerField(
        read_only=True, help_text="How much of the file has been read, 0–100."
    )
    outcome = serializers.ChoiceField(
        choices=ImportOutcome.choices,
        read_only=True,
        allow_null=True,
        help_text="How a done import ended; null until it is done. imported_rows + "
        "invalid_count = done_rows.",
    )
    imported_rows = serializers.IntegerField(
        read_only=True, help_text="new_count + merged_count: rows read and written."
    )
    imported_percent = serializers.IntegerField(
        read_only=True, help_text="imported_rows of done_rows, rounded down."
    )
    rows_per_second = serializers.SerializerMethodField()
    seconds_left = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "file_name",
            "file_size",
            "encoding",
            "delimiter",
            "headers",
            "mapping",
            "placeholders",
            "status",
            "dry_run",
            "total_rows",
            "done_rows",
            "percent",
            "rows_per_second",
            "seconds_left",
            "outcome",
            "imported_rows",
            "imported_percent",
            "new_count",
            "merged_count",
            "invalid_count",
            "warning_count",
            "cancel_requested",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_rows_per_second(self, job) -> float | None:
        return progress_of(job).rows_per_second

    def get_seconds_left(self, job) -> int | None:
        return progress_of(job).seconds_left


class UploadInput(StrictSerializer):
    file = serializers.FileField(allow_empty_file=True)


class MappingInput(StrictSerializer):
    mapping = serializers.DictField(child=serializers.DictField(), required=False)
    placeholders = serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True, trim_whitespace=False),
        required=False,
        max_length=import_services.MAX_PLACEHOLDERS,
    )
    save_as = serializers.CharField(max_length=100, required=False, allow_blank=True)
    saved_mapping = serializers.IntegerField(min_value=1, required=False)

    def validate_saved_mapping(self, value):
        saved = import_mapping_list().filter(pk=value).first()
        if saved is None:
            raise serializers.ValidationError("No such saved mapping.")
        return saved

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if ("mapping" in attrs) == ("saved_mapping" in attrs):
            raise serializers.ValidationError(
                {"mapping": ["Give either a mapping or a saved_mapping id."]}
            )
        return attrs


class RowErrorOutput(serializers.ModelSerializer):
    row = serializers.IntegerField(source="row_number")

    class Meta:
        model = ImportRowError
        fields = ["row", "column", "value", "message", "severity"]


class ImportMappingOutput(serializers.ModelSerializer):
    class Meta:
        model = ImportMapping
        fields = ["id", "name", "mapping", "placeholders", "created_at"]


class _Echo:
    """A file-like object csv.writer writes one line to, handed straight to the response."""

    def write(self, value: str) -> str:
        return value


class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """CSV imports of inquiries, newest first, with their progress (marketing roles)."""

    model = ImportJob
    serializer_class = ImportJobOutput
    permission_classes = [role_required(*MARKETING)]
    parser_classes = [JSONParser, MultiPartParser]
    lookup_value_regex = "[0-9]+"

    def scoped_queryset(self):
        return import_job_list()

    @extend_schema(request={"multipart/form-data": UploadInput}, responses={201: ImportJobOutput})
    def create(self, request):
        """Upload a CSV (multipart ``file``); the answer has its columns and a suggested mapping."""
        data = UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = import_services.analyse_upload(
            file=upload, file_name=upload.name or "", by=self.principal
        )
        return Response(ImportJobOutput(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MappingInput, responses=ImportJobOutput)
    @action(detail=True, methods=["post"])
    def mapping(self, request, pk=None):
        """Say where each column goes (or apply a saved mapping); optionally save it by name."""
        job = self.get_object()
        data = MappingInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "saved_mapping" in values:
            job = import_services.reuse_mapping(
                job=job, saved=values["saved_mapping"], by=self.principal
            )
        else:
            job = import_services.set_mapping(
                job=job,
                mapping=values["mapping"],
                placeholders=values.get("placeholders", job.placeholders),
                save_as=values.get("save_as", ""),
                by=self.principal,
            )
        return Response(ImportJobOutput(job).data)

    @extend_schema(request=None, responses={202: ImportJobOutput})
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        """Queue a dry run counting new, merged and invalid rows; follow ``dry_run`` on the job."""
        job = import_services.request_dry_run(job=self.get_object(), by=self.principal)
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ImportJobOutput})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Run the import in the background; follow it with GET on the job."""
        job = import_services.start_import(job=self.get_object(), by=self.principal)
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=ImportJobOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop after the chunk being written; what was written stays, the report says how far."""
        job = import_services.cancel_import(job=self.get_object(), by=self.principal)
        return Response(ImportJobOutput(job).data)

    @extend_schema(responses=RowErrorOutput(many=True))
    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        """The per-row report: row, column, value, message and severity, in file order.

        An ``error`` skipped its row; a ``warning`` left one cell out of a row that was imported.
        """
        job = self.get_object()
        page = self.paginate_queryset(import_errors(job))
        return self.get_paginated_response(RowErrorOutput(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        """The per-row report as a CSV download; formula-like cells are neutralised."""
        job = self.get_object()
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in report_csv_rows(job)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
        return response


class ImportMappingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Saved column mappings, to apply to the next file from the same tool."""

    model = ImportMapping
    serializer_class = ImportMappingOutput
    permission_classes = [role_required(*MARKETING)]

    def scoped_queryset(self):
        return import_mapping_list()
