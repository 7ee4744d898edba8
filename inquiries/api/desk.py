"""The qualifier's desk in the API: notes, requalify, and tasks on inquiries.

``/api/v1/inquiries/{id}/notes/`` (GET, POST), ``/api/v1/inquiries/{id}/requalify/``
(POST), ``/api/v1/tasks/`` (GET ``?due=today&mine=true``, POST) and
``/api/v1/tasks/{id}/complete/`` (POST). Validate, call one service,
serialize. Rows are looked up within the caller's tenant: another tenant's
inquiry or task is a 404 before any 400.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from inquiries.api.serializers import InquiryOutput, StrictSerializer
from inquiries.models import InquiryNote, InquiryTask
from inquiries.selectors.desk import DUE_CHOICES, notes_of, open_tasks, task_list
from inquiries.selectors.inbox import assignable_members
from inquiries.selectors.inquiries import inquiry_list
from inquiries.services.desk import MAX_NOTE_LENGTH, add_note, requalify_inquiry
from inquiries.services.reminders import MAX_NOTE_LENGTH as MAX_TASK_NOTE
from inquiries.services.reminders import complete_task, create_task
from leadflow.lib.query_fields import without_empty
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MARKETING

MAX_ID = 2**31 - 1


class NoteInput(StrictSerializer):
    text = serializers.CharField(max_length=MAX_NOTE_LENGTH, help_text="Internal; never sent.")


class NoteOutput(serializers.ModelSerializer):
    inquiry = serializers.PrimaryKeyRelatedField(read_only=True)
    author = serializers.CharField(
        source="author.display_name", allow_null=True, default=None, help_text="By name."
    )

    class Meta:
        model = InquiryNote
        fields = ["id", "inquiry", "text", "author", "created_at"]


class InquiryNotesView(GenericAPIView):
    """The person's internal notes (newest first), or one more."""

    permission_classes = [role_required(*MARKETING)]
    serializer_class = NoteOutput
    filter_backends: list[type] = []

    @extend_schema(responses=NoteOutput(many=True), summary="The person's notes, newest first")
    def get(self, request: Request, pk: int) -> Response:
        inquiry = get_object_or_404(inquiry_list(), pk=pk)
        page = self.paginate_queryset(notes_of(inquiry=inquiry))
        return self.get_paginated_response(NoteOutput(page, many=True).data)

    @extend_schema(
        request=NoteInput,
        responses={201: NoteOutput},
        summary="Add an internal note (never sent to a buyer)",
    )
    def post(self, request: Request, pk: int) -> Response:
        inquiry = get_object_or_404(inquiry_list(), pk=pk)
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = add_note(inquiry=inquiry, text=data.validated_data["text"], by=request.auth)
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class RequalifyView(GenericAPIView):
    """Take a disqualified person back; rescored at once (MQL queue or nurture)."""

    permission_classes = [role_required(*MARKETING)]
    serializer_class = InquiryOutput
    filter_backends: list[type] = []

    @extend_schema(
        request=None,
        responses={200: InquiryOutput},
        summary="Requalify a disqualified inquiry",
        description="Through the stage mover: back from disqualified, then where its score "
        "sends it. 400 (`stage`) when the inquiry is not disqualified.",
    )
    def post(self, request: Request, pk: int) -> Response:
        inquiry = get_object_or_404(inquiry_list(), pk=pk)
        inquiry = requalify_inquiry(inquiry=inquiry, by=request.auth)
        return Response(InquiryOutput(inquiry_list().get(pk=inquiry.pk)).data)


class TaskInput(StrictSerializer):
    inquiry = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Inquiry id.")
    due_at = serializers.DateTimeField(help_text="When it is due, with its zone.")
    note = serializers.CharField(
        max_length=MAX_TASK_NOTE, required=False, allow_blank=True, default=""
    )
    assignee = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        default=None,
        help_text="User id of a marketing member (default: the caller).",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        inquiry = inquiry_list().filter(pk=attrs["inquiry"]).first()
        if inquiry is None:
            raise serializers.ValidationError({"inquiry": ["No such inquiry."]})
        attrs["inquiry"] = inquiry
        if attrs["assignee"] is not None:
            member = assignable_members().filter(user_id=attrs["assignee"]).first()
            if member is None:
                raise serializers.ValidationError(
                    {"assignee": ["Not a qualifier or marketer of this tenant."]}
                )
            attrs["assignee"] = member.user
        return attrs


class TaskOutput(serializers.ModelSerializer):
    inquiry = serializers.PrimaryKeyRelatedField(read_only=True)
    inquiry_name = serializers.CharField(source="inquiry.display_name", read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", allow_null=True, read_only=True)
    assignee_name = serializers.CharField(
        source="assignee.display_name", allow_null=True, default=None
    )
    done = serializers.SerializerMethodField()

    class Meta:
        model = InquiryTask
        fields = [
            "id",
            "inquiry",
            "inquiry_name",
            "due_at",
            "note",
            "assignee",
            "assignee_name",
            "done",
            "completed_at",
            "created_at",
        ]

    def get_done(self, task: InquiryTask) -> bool:
        return task.completed_at is not None


class TaskViewSet(mixins.ListModelMixin, TenantViewSet):
    """Reminders on inquiries: the open ones by due time; set one; mark one done."""

    model = InquiryTask
    permission_classes = [role_required(*MARKETING)]
    serializer_class = TaskOutput
    filter_backends: list[type] = []

    def scoped_queryset(self):
        return task_list()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "due",
                str,
                enum=list(DUE_CHOICES),
                description="today: due by the end of today in the caller's zone (late ones "
                "too); overdue: past due; all (default): every open task.",
            ),
            OpenApiParameter(
                "mine", str, enum=["true", "false"], description="true: only the caller's."
            ),
        ],
        summary="Open tasks, soonest due first",
    )
    def list(self, request: Request) -> Response:
        # A parameter given empty (``?mine=``) means the same as not given.
        params = without_empty(request.query_params)
        due = params.get("due", "all")
        mine = params.get("mine", "false")
        errors = {}
        if due not in DUE_CHOICES:
            errors["due"] = ["One of: " + ", ".join(DUE_CHOICES) + "."]
        if mine not in ("true", "false"):
            errors["mine"] = ["true or false."]
        if errors:
            raise serializers.ValidationError(errors)
        user = self.principal.user
        assignee_id = (user.pk if user is not None else 0) if mine == "true" else None
        tasks = open_tasks(due=due, assignee_id=assignee_id, tz=self.principal.timezone)
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(TaskOutput(page, many=True).data)

    @extend_schema(request=TaskInput, responses={201: TaskOutput}, summary="Set a task")
    def create(self, request: Request) -> Response:
        data = TaskInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = create_task(**data.validated_data, by=self.principal)
        return Response(TaskOutput(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: TaskOutput}, summary="Mark a task done")
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        task = complete_task(task=task, by=self.principal)
        return Response(TaskOutput(task).data)
