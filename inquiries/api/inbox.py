"""The triage inbox in the API: the filtered list, bulk actions, CSV export, disqualify reasons.

``InquiryViewSet`` (``inquiries/api/inquiries.py``) routes its ``list``,
``bulk`` and ``export.csv`` here; the filters are the inbox's own
(``inquiries.selectors.inbox.InboxFilter``), so the page and the API agree.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import tzinfo

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inquiries.api.serializers import InquiryOutput, StrictSerializer
from inquiries.models import BulkJob, DisqualifyReason, SavedView
from inquiries.selectors.inbox import (
    DEFAULT_SORT,
    MAX_PAGE_SIZE,
    MAX_SELECTED_IDS,
    PAGE_SIZE,
    SORTS,
    BadCursor,
    InboxFilter,
    Selection,
    assignable_members,
    bulk_jobs,
    capped_counts,
    disqualify_reasons,
    keyset_page,
    keyset_queryset,
    missing_ids,
    search_is_selective,
    visible_views,
)
from inquiries.selectors.inquiries import campaign_choices
from inquiries.services import triage
from leadflow.lib import times
from leadflow.lib.ids import ids_pattern, parse_ids
from leadflow.lib.pagination import page_size_from
from leadflow.lib.spreadsheet import safe_cell
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MANAGERS, MARKETING

MAX_OFFSET = 2**63 - 1
EXPORT_BATCH = 2000
EXPORT_COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "country",
    "source",
    "campaign",
    "stage",
    "behaviour_level",
    "score",
    "assigned_to",
    "disqualified_reason",
    "created_at",
    "last_activity_at",
]

LIST_PARAMETERS = [
    OpenApiParameter(
        "sort",
        str,
        enum=list(SORTS),
        description="With a sort the list is paged by cursor (keyset): follow `next`.",
    ),
    OpenApiParameter(
        "cursor",
        str,
        description="From the previous page's `next`; one this list did not make is a 404.",
    ),
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1},
        description="Page number, without `sort` only; a page past the end is a 404.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        description=f"1–{MAX_PAGE_SIZE}, default {PAGE_SIZE}.",
    ),
]


@extend_schema_serializer(many=False)  # the page itself, not a list to paginate again
class InboxPageOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="Capped at 10,000 (see `count_capped`).")
    count_capped = serializers.BooleanField(help_text="True when more than `count` match.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = InquiryOutput(many=True)


def _filtered(view, request):
    bound = InboxFilter(
        request.query_params,
        queryset=view.get_queryset().select_related("assigned_to"),
        user_id=request.user.pk if request.user.is_authenticated else None,
    )
    if not bound.is_valid():
        raise exceptions.ValidationError(bound.errors_as_dict)
    return bound.qs


def _rows(view):
    """What a row of the list shows (the page's ids are picked without these joins)."""
    return view.get_queryset().select_related("assigned_to")


def _page_size(request) -> int:
    raw = request.query_params.get("page_size")
    return PAGE_SIZE if raw is None else page_size_from(raw, maximum=MAX_PAGE_SIZE)


def _url(request, **changes) -> str:
    params = request.query_params.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value is not None:
            params[key] = value
    return request.build_absolute_uri(request.path + "?" + params.urlencode())


def inbox_list(view, request) -> Response:
    """The filtered inquiries: by cursor when sorted, else by page number; a capped count."""
    queryset = _filtered(view, request)
    size = _page_size(request)
    sort_key = request.query_params.get("sort")
    count = capped_counts({"total": queryset})["total"]
    unindexed = search_is_selective(request.query_params, count)
    previous = None
    if sort_key:
        sort = SORTS.get(sort_key)
        if sort is None:
            raise exceptions.ValidationError({"sort": [f"Use one of: {', '.join(SORTS)}."]})
        try:
            page = keyset_page(
                queryset,
                sort=sort,
                cursor=request.query_params.get("cursor"),
                size=size,
                rows_from=_rows(view),
                unindexed=unindexed,
            )
        except BadCursor:
            # A cursor names a page: one this list did not make is no page, like ?page=abc.
            raise exceptions.NotFound(
                "No such page: follow the `next` link of the previous page."
            ) from None
        rows = page.rows
        following = _url(request, cursor=page.next_cursor) if page.next_cursor else None
    else:
        try:
            number = int(request.query_params.get("page", 1))
        except ValueError:
            raise exceptions.ValidationError({"page": ["Give a page number."]}) from None
        if number < 1:
            raise exceptions.ValidationError({"page": ["Pages start at 1."]})
        start = (number - 1) * size
        if start + size + 1 > MAX_OFFSET:
            # Past any table PostgreSQL can hold (OFFSET is a bigint): a page past the end.
            raise exceptions.NotFound("Invalid page.")
        rows = list(
            keyset_queryset(
                queryset,
                sort=SORTS[DEFAULT_SORT],
                cursor=None,
                size=size,
                rows_from=_rows(view),
                offset=start,
                unindexed=unindexed,
            )
        )
        if number > 1 and not rows:
            raise exceptions.NotFound("Invalid page.")
        following = _url(request, page=str(number + 1)) if len(rows) > size else None
        previous = (
            _url(request, page=str(number - 1) if number > 2 else None) if number > 1 else None
        )
        rows = rows[:size]
    return Response(
        {
            "count": count.value,
            "count_capped": count.capped,
            "next": following,
            "previous": previous,
            "results": InquiryOutput(rows, many=True).data,
        }
    )


# --- Bulk actions --------------------------------------------------------------------


class BulkInput(StrictSerializer):
    ACTIONS = ("assign", "disqualify", "nurture", "add_to_campaign")

    action = serializers.ChoiceField(choices=ACTIONS)
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_SELECTED_IDS,
        help_text=f"The chosen inquiries (at most {MAX_SELECTED_IDS}); or give `filter`.",
    )
    filter = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="All inquiries matching this inbox query string, e.g. `stage=mql&score_min=50`.",
    )
    assignee = serializers.IntegerField(
        required=False, allow_null=True, help_text="User id (assign); null to unassign."
    )
    reason = serializers.IntegerField(required=False, help_text="Disqualify reason id.")
    campaign = serializers.IntegerField(required=False, help_text="Campaign id.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"ids": ["Give either ids or filter."]})
        if "ids" in attrs and not attrs["ids"]:
            raise serializers.ValidationError({"ids": ["Select at least one inquiry."]})
        action = attrs["action"]
        if action == "assign":
            if "assignee" not in attrs:
                raise serializers.ValidationError({"assignee": ["Choose who works them."]})
            user_id = attrs["assignee"]
            if user_id is None:
                attrs["assignee"] = None
            else:
                member = assignable_members().filter(user_id=user_id).first()
                if member is None:
                    raise serializers.ValidationError(
                        {"assignee": ["Not a qualifier or marketer of this tenant."]}
                    )
                attrs["assignee"] = member.user
        if action == "disqualify":
            reason = disqualify_reasons().filter(pk=attrs.get("reason") or 0).first()
            if reason is None:
                raise serializers.ValidationError({"reason": ["Choose a reason of the list."]})
            attrs["reason"] = reason
        if action == "add_to_campaign":
            campaign = campaign_choices().filter(pk=attrs.get("campaign") or 0).first()
            if campaign is None:
                raise serializers.ValidationError({"campaign": ["Choose a campaign."]})
            attrs["campaign"] = campaign
        return attrs


class BulkOutput(serializers.Serializer):
    action = serializers.CharField()
    matched = serializers.IntegerField()
    changed = serializers.IntegerField()
    skipped = serializers.IntegerField()


def selection_from(values: dict) -> Selection:
    """The selection of a validated bulk request; an id the tenant does not have is 404."""
    if "filter" in values:
        return Selection(query=values["filter"])
    ids = tuple(dict.fromkeys(values["ids"]))
    if missing_ids(ids):
        raise exceptions.NotFound()
    return Selection(ids=ids)


class BulkJobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    skipped = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = BulkJob
        fields = [
            "id",
            "url",
            "action",
            "query",
            "values",
            "status",
            "total",
            "done",
            "changed",
            "skipped",
            "percent",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job: BulkJob) -> str:
        path = f"/api/v1/inquiries/bulk-jobs/{job.pk}/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


def inbox_bulk(view, request) -> Response:
    """Assign, disqualify, nurture or add to a campaign the chosen ids or all matching a filter."""
    data = BulkInput(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    result = triage.run_bulk_action(
        action=values["action"], selection=selection_from(values), values=values, by=view.principal
    )
    if isinstance(result, BulkJob):
        body = BulkJobSerializer(result, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
    return Response(
        {
            "action": values["action"],
            "matched": result.matched,
            "changed": result.changed,
            "skipped": result.skipped,
        },
        status=status.HTTP_200_OK,
    )


# --- CSV export ----------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_rows(
    queryset, *, tenant_id: int, zone: tzinfo, searching: bool = False
) -> Iterator[str]:
    """CSV lines of ``queryset``, newest first, read in keyset batches while streaming.

    The response body is produced after the view returned (and the request's
    tenant scope and time zone were reset), so the scope is set again here and
    times are written in ``zone``, the caller's, as ISO 8601 with its offset.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    sort = SORTS[DEFAULT_SORT]
    cursor = None
    with tenant_context(tenant_id):
        unindexed = searching and not capped_counts({"total": queryset})["total"].capped
        while True:
            page = keyset_page(
                queryset, sort=sort, cursor=cursor, size=EXPORT_BATCH, unindexed=unindexed
            )
            for inquiry in page.rows:
                yield writer.writerow(
                    [
                        safe_cell("" if value is None else value)
                        for value in (
                            inquiry.pk,
                            inquiry.first_name,
                            inquiry.last_name,
                            inquiry.email,
                            inquiry.phone,
                            inquiry.title,
                            inquiry.company,
                            inquiry.country,
                            inquiry.source,
                            inquiry.campaign.name if inquiry.campaign else "",
                            inquiry.stage,
                            inquiry.behaviour_level,
                            inquiry.score,
                            inquiry.assigned_to.email if inquiry.assigned_to else "",
                            inquiry.disqualified_reason,
                            times.iso(inquiry.created_at, zone),
                            times.iso(inquiry.last_activity_at, zone),
                        )
                    ]
                )
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def export_response(
    queryset, *, tenant_id: int, zone: tzinfo, searching: bool
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        export_rows(queryset, tenant_id=tenant_id, zone=zone, searching=searching),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="inquiries.csv"'
    return response


EXPORT_PARAMETERS = [
    OpenApiParameter(
        "ids",
        # Empty is the same as leaving it out: the filters decide.
        {"type": "string", "pattern": f"^$|{ids_pattern(at_most=MAX_SELECTED_IDS)}"},
        description=f"Comma-separated ids (at most {MAX_SELECTED_IDS}): only these inquiries.",
    ),
]


def inbox_export(view, request) -> StreamingHttpResponse:
    """The filtered inquiries (or the chosen ``ids``) as CSV, streamed."""
    raw_ids = request.query_params.get("ids", "")
    if raw_ids:
        if len(raw_ids.split(",")) > MAX_SELECTED_IDS:
            raise exceptions.ValidationError({"ids": [f"At most {MAX_SELECTED_IDS} ids."]})
        parsed = parse_ids(raw_ids, at_most=MAX_SELECTED_IDS)
        if parsed is None:
            raise exceptions.ValidationError({"ids": ["Give comma-separated ids, e.g. 1,2,3."]})
        ids = tuple(dict.fromkeys(parsed))
        if missing_ids(ids):
            raise exceptions.NotFound()
        queryset = view.get_queryset().filter(pk__in=ids)
    else:
        queryset = _filtered(view, request)
    queryset = queryset.select_related("campaign", "assigned_to")
    query = request.query_params.urlencode()
    selection = Selection(ids=ids) if raw_ids else Selection(query=query)
    triage.record_inbox_export(selection=selection, by=view.principal)
    searching = bool(request.query_params.get("q")) and not raw_ids
    return export_response(
        queryset,
        tenant_id=view.principal.tenant.pk,
        zone=view.principal.timezone,
        searching=searching,
    )


# --- The tenant's list of disqualify reasons ----------------------------------------


class DisqualifyReasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisqualifyReason
        fields = ["id", "label", "active", "created_at"]
        read_only_fields = ["id", "created_at"]


class DisqualifyReasonChange(StrictSerializer):
    label = serializers.CharField(max_length=200, required=False)
    active = serializers.BooleanField(required=False)


class DisqualifyReasonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Reasons a qualifier may give when disqualifying (admins and managers edit the list)."""

    model = DisqualifyReason
    serializer_class = DisqualifyReasonSerializer
    permission_classes = [role_required(*MANAGERS, read_roles=MARKETING)]
    filter_backends: list = []

    def scoped_queryset(self):
        return disqualify_reasons()

    @extend_schema(request=DisqualifyReasonChange, responses={201: DisqualifyReasonSerializer})
    def create(self, request):
        data = DisqualifyReasonChange(data=request.data)
        data.is_valid(raise_exception=True)
        if "label" not in data.validated_data:
            raise exceptions.ValidationError({"label": ["This field is required."]})
        reason = triage.add_disqualify_reason(label=data.validated_data["label"], by=self.principal)
        return Response(DisqualifyReasonSerializer(reason).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DisqualifyReasonChange, responses=DisqualifyReasonSerializer)
    def partial_update(self, request, pk=None):
        reason = self.get_object()
        data = DisqualifyReasonChange(data=request.data)
        data.is_valid(raise_exception=True)
        reason = triage.change_disqualify_reason(
            reason=reason, **data.validated_data, by=self.principal
        )
        return Response(DisqualifyReasonSerializer(reason).data)


# --- Saved views ---------------------------------------------------------------------


class SavedViewSerializer(serializers.ModelSerializer):
    inquiries_url = serializers.SerializerMethodField(
        help_text="The inquiry list with this view's filters and sort."
    )

    class Meta:
        model = SavedView
        fields = ["id", "name", "query", "shared", "owner", "inquiries_url", "created_at"]
        read_only_fields = ["id", "inquiries_url", "created_at"]

    owner = serializers.CharField(source="user.display_name", read_only=True)

    def get_inquiries_url(self, view: SavedView) -> str:
        path = "/api/v1/inquiries/" + (f"?{view.query}" if view.query else "")
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class SavedViewInput(StrictSerializer):
    name = serializers.CharField(max_length=100, help_text="Saving a name again replaces it.")
    query = serializers.CharField(
        max_length=2000,
        allow_blank=True,
        help_text="The inbox's query string: filters and `sort` (`cursor` and `page` are dropped).",
    )
    shared = serializers.BooleanField(
        required=False, default=False, help_text="Shown to the whole team (default: only you)."
    )


class SavedViewViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """The caller's named inbox filters and the team's shared ones; only the owner deletes
    (another user's view is not found, 404)."""

    model = SavedView
    serializer_class = SavedViewSerializer
    permission_classes = [role_required(*MARKETING)]
    filter_backends: list = []

    def scoped_queryset(self):
        user = self.principal.user
        return visible_views(user_id=user.pk) if user else SavedView.objects.none()

    @extend_schema(request=SavedViewInput, responses={201: SavedViewSerializer})
    def create(self, request):
        data = SavedViewInput(data=request.data)
        data.is_valid(raise_exception=True)
        view = triage.save_inbox_view(**data.validated_data, by=self.principal)
        serializer = SavedViewSerializer(view, context={"request": request})
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        user = self.principal.user
        if user is None or instance.user_id != user.pk:
            raise exceptions.NotFound()
        triage.delete_inbox_view(view=instance, by=self.principal)


class BulkJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Bulk actions on "all matching" too many for one request, and their progress."""

    model = BulkJob
    serializer_class = BulkJobSerializer
    permission_classes = [role_required(*MARKETING)]
    filter_backends: list = []

    def scoped_queryset(self):
        return bulk_jobs()

    @extend_schema(request=None, responses=BulkJobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the job after the batch being written; 409 when it has already ended."""
        job = triage.cancel_bulk_job(job=self.get_object(), by=self.principal)
        return Response(BulkJobSerializer(job, context={"request": request}).data)
