"""API of nurture: programs (pause, resume), enrollments (enroll, remove), consent, settings.

Admins and marketers change; qualifiers read. Every row is looked up within
the caller's tenant (another tenant's is 404). Business refusals are 400 with
field errors, or 409 (deleting the long-term program, removing from it).
"""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import StrictSerializer
from inquiries.models import Inquiry
from leadflow.lib.query_fields import IdFilter
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import Role
from nurture import selectors
from nurture.models import (
    RECORDABLE_CONSENT_SOURCES,
    RECORDABLE_CONSENT_STATUSES,
    ConsentMode,
    ConsentStatus,
    Enrollment,
    EnrollmentState,
    NurtureProgram,
    NurtureStep,
    StepKind,
)
from nurture.services import builder, preview
from nurture.services import consent as consent_services
from nurture.services import enrollment as enrollment_services
from nurture.services import programs as program_services
from nurture.services import settings as settings_services

ID_MAX = 2**31 - 1
READERS = (Role.ADMIN, Role.MARKETER, Role.QUALIFIER)
WRITERS = (Role.ADMIN, Role.MARKETER)


class NurtureAccess(BasePermission):
    """Qualifiers read; admins and marketers read and change; partners never."""

    def has_permission(self, request, view) -> bool:
        principal = request.auth
        if principal is None or principal.is_partner:
            return False
        roles = READERS if request.method in SAFE_METHODS else WRITERS
        return principal.has_role(*roles)


class StepOutput(serializers.ModelSerializer):
    class Meta:
        model = NurtureStep
        fields = [
            "id",
            "position",
            "kind",
            "subject",
            "body",
            "wait_days",
            "wait_minutes",
            "branch_to",
        ]


class ProgramOutput(serializers.ModelSerializer):
    steps = StepOutput(many=True, read_only=True)
    active_enrollments = serializers.SerializerMethodField()

    class Meta:
        model = NurtureProgram
        fields = [
            "id",
            "name",
            "description",
            "audience",
            "position",
            "paused",
            "is_long_term",
            "active_enrollments",
            "steps",
            "created_at",
        ]

    def get_active_enrollments(self, program: NurtureProgram) -> int:
        return getattr(program, "active_count", 0)


# The builder's inputs and outputs (issue 20).


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": "Keys industry, behaviour_level, source, reason, each a list of values "
        '(a key left out, or an empty list, matches everyone): {"source": ["webinar"]}.',
    }
)
class AudienceField(serializers.JSONField):
    """An audience rule; its keys and values are checked by the builder's service."""


class StepInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=StepKind.choices)
    subject = serializers.CharField(max_length=200, allow_blank=True, required=False)
    body = serializers.CharField(max_length=20000, allow_blank=True, required=False)
    wait_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    wait_minutes = serializers.IntegerField(min_value=0, max_value=1439, required=False)
    branch_to = serializers.IntegerField(
        min_value=0,
        max_value=49,
        allow_null=True,
        required=False,
        help_text="A branch: the position (0-based) of the step a person who clicked goes on at.",
    )


class StepCreateInput(StepInput):
    position = serializers.IntegerField(
        min_value=0,
        max_value=50,
        required=False,
        help_text="Insert before the step now at this position (0-based); left out: at the end.",
    )


class StepUpdateInput(StepInput):
    kind = serializers.ChoiceField(choices=StepKind.choices, required=False)


class ProgramInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False)
    audience = AudienceField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=100000, required=False)
    steps = StepInput(many=True, required=False)


class ProgramUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False)
    audience = AudienceField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=100000, required=False)


class ReorderInput(StrictSerializer):
    order = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX),
        min_length=1,
        max_length=50,
        help_text="Every step id of the program once, in the new order.",
    )


class AudienceInput(StrictSerializer):
    audience = AudienceField()


class AudienceCountOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="Inquiries in nurture now that the rule fits.")


class EmailPreviewInput(StrictSerializer):
    inquiry = serializers.IntegerField(
        min_value=1,
        max_value=ID_MAX,
        required=False,
        help_text="The sample inquiry; left out: the newest in nurture (or a made-up person).",
    )
    subject = serializers.CharField(
        max_length=200, required=False, help_text="A draft subject to render instead."
    )
    body = serializers.CharField(
        max_length=20000, required=False, help_text="A draft body to render instead."
    )


class EmailPreviewOutput(serializers.Serializer):
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()
    sample_name = serializers.CharField()
    sample_id = serializers.IntegerField(allow_null=True)


class TestSendOutput(serializers.Serializer):
    to = serializers.EmailField()
    outbox_message = serializers.IntegerField()


class NurtureFunnelOutput(serializers.Serializer):
    """People over every enrollment ever made in the program, each counted once; each step
    implies the one before (the dashboards' nurture breakdown counts the same way)."""

    enrolled = serializers.IntegerField()
    engaged = serializers.IntegerField(
        help_text="An engagement activity (click, download, form, reply, visit…) while enrolled,"
        " or a later step."
    )
    mql = serializers.IntegerField(help_text="Moved to MQL or lead since enrolling, or won.")
    lead = serializers.IntegerField(help_text="A lead of the person made since enrolling.")
    won = serializers.IntegerField(help_text="Such a lead, won now.")


class NurtureProgramViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """Nurture programs in the order enrollment tries them, with their steps."""

    permission_classes = [NurtureAccess]
    serializer_class = ProgramOutput
    model = NurtureProgram

    def scoped_queryset(self):
        return selectors.programs().prefetch_related("steps")

    def list(self, request, *args, **kwargs):
        program_services.long_term_program()
        return super().list(request, *args, **kwargs)

    def perform_destroy(self, instance):
        program_services.delete_program(program=instance, by=self.principal)

    @extend_schema(request=None, responses=ProgramOutput)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Pause the program: none of its steps run until it is resumed."""
        program_services.set_program_paused(
            program=self.get_object(), paused=True, by=self.principal
        )
        return Response(ProgramOutput(self.get_object()).data)

    @extend_schema(request=None, responses=ProgramOutput)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Resume the program: steps that fell due meanwhile run at the next minute."""
        program_services.set_program_paused(
            program=self.get_object(), paused=False, by=self.principal
        )
        return Response(ProgramOutput(self.get_object()).data)

    @extend_schema(request=ProgramInput, responses={201: ProgramOutput})
    def create(self, request, *args, **kwargs):
        """A program with its steps; every step validated (400 names the step and field)."""
        data = ProgramInput(data=request.data)
        data.is_valid(raise_exception=True)
        program = builder.create_program(by=self.principal, **data.validated_data)
        return Response(_program_data(program.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=ProgramUpdateInput, responses=ProgramOutput)
    def partial_update(self, request, *args, **kwargs):
        """Change the name, description, audience or position (steps: the steps routes)."""
        program = self.get_object()
        data = ProgramUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        builder.update_program(program=program, changes=data.validated_data, by=self.principal)
        return Response(_program_data(program.pk))

    @extend_schema(responses=NurtureFunnelOutput)
    @action(detail=True, methods=["get"])
    def funnel(self, request, pk=None):
        """Of everyone ever enrolled: engaged (while enrolled), MQL, lead, won, as the dashboard."""
        funnel = selectors.program_funnel(self.get_object())
        return Response(NurtureFunnelOutput(funnel).data)


class EnrollmentOutput(serializers.ModelSerializer):
    inquiry_name = serializers.SerializerMethodField()
    program_name = serializers.CharField(source="program.name")

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "inquiry",
            "inquiry_name",
            "program",
            "program_name",
            "state",
            "position",
            "due_at",
            "reason",
            "enrolled_by",
            "enrolled_at",
            "exited_at",
            "exit_reason",
        ]

    def get_inquiry_name(self, enrollment: Enrollment) -> str:
        return str(enrollment.inquiry)


class EnrollmentFilter(django_filters.FilterSet):
    program = IdFilter(field_name="program_id", help_text="The program's id.")
    inquiry = IdFilter(field_name="inquiry_id", help_text="The inquiry's id.")
    state = django_filters.ChoiceFilter(choices=EnrollmentState.choices)

    class Meta:
        model = Enrollment
        fields: list[str] = []


class EnrollInput(StrictSerializer):
    program = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    inquiry_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX),
        min_length=1,
        max_length=1000,
    )


class EnrollOutput(serializers.Serializer):
    enrolled = serializers.ListField(child=serializers.IntegerField())
    moved_to_nurture = serializers.ListField(child=serializers.IntegerField())


class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Who is in which program: state, next step, due time; enroll by hand, remove."""

    permission_classes = [NurtureAccess]
    serializer_class = EnrollmentOutput
    filterset_class = EnrollmentFilter
    model = Enrollment

    def scoped_queryset(self):
        return selectors.enrollments()

    @extend_schema(request=EnrollInput, responses={200: EnrollOutput})
    @action(detail=False, methods=["post"])
    def enroll(self, request):
        """Enroll inquiries by id in a program (those not in nurture move there first)."""
        data = EnrollInput(data=request.data)
        data.is_valid(raise_exception=True)
        program = NurtureProgram.objects.filter(pk=data.validated_data["program"]).first()
        if program is None:
            raise serializers.ValidationError({"program": ["No such program."]})
        result = enrollment_services.enroll_by_hand(
            inquiry_ids=data.validated_data["inquiry_ids"], program=program, by=self.principal
        )
        return Response(
            EnrollOutput(
                {"enrolled": result.enrolled, "moved_to_nurture": result.moved_to_nurture}
            ).data
        )

    @extend_schema(request=None, responses={200: EnrollmentOutput})
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        """Take the person out of this program; they continue in the long-term program."""
        replacement = enrollment_services.remove_from_program(
            enrollment=self.get_object(), by=self.principal
        )
        return Response(EnrollmentOutput(replacement).data)


class ConsentEventOutput(serializers.Serializer):
    status = serializers.CharField()
    source = serializers.CharField()
    text_shown = serializers.CharField()
    recorded_by = serializers.CharField()
    recorded_at = serializers.DateTimeField()


class ConsentOutput(serializers.Serializer):
    inquiry = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    suppressed = serializers.BooleanField()
    suppressed_reason = serializers.CharField()
    mailable = serializers.BooleanField(help_text="Whether nurture email may go to them now.")
    history = ConsentEventOutput(many=True)


class ConsentInput(StrictSerializer):
    # Pending is the double opt-in's own state: a person records yes, no or unknown.
    status = serializers.ChoiceField(choices=RECORDABLE_CONSENT_STATUSES)
    source = serializers.ChoiceField(choices=RECORDABLE_CONSENT_SOURCES)
    text_shown = serializers.CharField(max_length=2000, allow_blank=True, required=False)


def _consent_data(inquiry: Inquiry) -> dict:
    view = selectors.consent_of(inquiry)
    return {
        "inquiry": inquiry.pk,
        "status": view.status,
        "suppressed": view.suppressed,
        "suppressed_reason": view.suppressed_reason,
        "mailable": view.mailable,
        "history": view.history,
    }


class ConsentView(APIView):
    """``/api/v1/nurture/consent/<inquiry>/``: a contact's consent and its history; record one."""

    permission_classes = [NurtureAccess]

    @extend_schema(responses=ConsentOutput)
    def get(self, request, inquiry_id: int):
        inquiry = get_object_or_404(Inquiry.objects.all(), pk=inquiry_id)
        return Response(ConsentOutput(_consent_data(inquiry)).data)

    @extend_schema(request=ConsentInput, responses={201: ConsentOutput})
    def post(self, request, inquiry_id: int):
        inquiry = get_object_or_404(Inquiry.objects.all(), pk=inquiry_id)
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        consent_services.record_consent(
            inquiry=inquiry,
            status=data.validated_data["status"],
            source=data.validated_data["source"],
            text_shown=data.validated_data.get("text_shown", ""),
            by_label=request.auth.label,
        )
        return Response(ConsentOutput(_consent_data(inquiry)).data, status=status.HTTP_201_CREATED)


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        "example": "09:00",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time of day, ``HH:MM[:SS]`` with no offset (the tenant's zone applies).

    OpenAPI's ``format: time`` is RFC 3339's full-time, which requires an offset.
    """


class SettingsSerializer(StrictSerializer):
    from_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    from_address = serializers.EmailField(allow_blank=True, required=False)
    reply_to = serializers.EmailField(allow_blank=True, required=False)
    postal_address = serializers.CharField(max_length=1000, allow_blank=True, required=False)
    consent_mode = serializers.ChoiceField(choices=ConsentMode.choices, required=False)
    cap_emails = serializers.IntegerField(min_value=1, max_value=100, required=False)
    cap_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    window_start = LocalTimeField(required=False, help_text="From, in the tenant's time zone.")
    window_end = LocalTimeField(required=False, help_text="Until, in the tenant's time zone.")
    throttle_per_minute = serializers.IntegerField(min_value=1, max_value=100000, required=False)
    double_opt_in = serializers.BooleanField(
        required=False,
        help_text="Public-form opt-ins confirm by email before nurture mails them.",
    )
    dkim_selector = serializers.CharField(max_length=63, allow_blank=True, required=False)
    dkim_domain = serializers.CharField(max_length=253, allow_blank=True, required=False)
    dkim_private_key = serializers.CharField(
        max_length=10000, allow_blank=True, required=False, write_only=True
    )
    dkim_configured = serializers.BooleanField(read_only=True)
    track_opens = serializers.BooleanField(
        required=False,
        help_text="A 1×1 image in each email notes opens (never scored). Off by default.",
    )


def _settings_data() -> dict:
    config = selectors.nurture_settings()
    data = {name: getattr(config, name) for name in settings_services.FIELDS}
    data.pop("dkim_private_key")
    data["dkim_configured"] = bool(config.dkim_private_key)
    return data


class NurtureSettingsView(APIView):
    """``/api/v1/nurture/settings/``: sender, consent mode, caps, send window, DKIM.

    The DKIM private key is write-only: it is never returned.
    """

    permission_classes = [NurtureAccess]

    @extend_schema(responses=SettingsSerializer)
    def get(self, request):
        return Response(SettingsSerializer(_settings_data()).data)

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request):
        data = SettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        settings_services.update_nurture_settings(changes=data.validated_data, by=request.auth)
        return Response(SettingsSerializer(_settings_data()).data)


# --- The program builder (issue 20): programs and steps edited, audience count, preview, funnel.


def _program_data(program_id: int) -> dict:
    return ProgramOutput(selectors.programs().prefetch_related("steps").get(pk=program_id)).data


class NurtureStepViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """A program's steps in order: add, change, delete, reorder; an email's preview and test."""

    permission_classes = [NurtureAccess]
    serializer_class = StepOutput
    model = NurtureStep
    pagination_class = None

    def scoped_queryset(self):
        return NurtureStep.objects.filter(program_id=self.kwargs.get("program_pk")).order_by(
            "position"
        )

    def program(self) -> NurtureProgram:
        return get_object_or_404(NurtureProgram.objects.all(), pk=self.kwargs["program_pk"])

    def list(self, request, *args, **kwargs):
        self.program()  # another tenant's program: 404, not an empty list
        return super().list(request, *args, **kwargs)

    @extend_schema(request=StepCreateInput, responses={201: StepOutput})
    def create(self, request, *args, **kwargs):
        """Add a step at the end, or before ``position``; later steps and people follow."""
        program = self.program()
        data = StepCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        position = fields.pop("position", None)
        step = builder.add_step(program=program, step=fields, position=position, by=self.principal)
        return Response(StepOutput(step).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StepUpdateInput, responses=StepOutput)
    def partial_update(self, request, *args, **kwargs):
        """Change a step's fields; validated against the program as it stands."""
        step = self.get_object()
        data = StepUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        step = builder.update_step(step=step, changes=data.validated_data, by=self.principal)
        return Response(StepOutput(step).data)

    def perform_destroy(self, instance):
        builder.delete_step(step=instance, by=self.principal)

    @extend_schema(request=ReorderInput, responses={200: StepOutput(many=True)})
    @action(detail=False, methods=["post"])
    def reorder(self, request, program_pk=None):
        """Put the steps in this order; branch targets and enrolled people stay on their steps."""
        program = self.program()
        data = ReorderInput(data=request.data)
        data.is_valid(raise_exception=True)
        builder.reorder_steps(
            program=program, order=data.validated_data["order"], by=self.principal
        )
        return Response(StepOutput(selectors.program_steps(program), many=True).data)

    def _render_input(self, request) -> tuple[NurtureStep, dict]:
        step = self.get_object()
        data = EmailPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["inquiry"] = preview.sample_inquiry(fields.get("inquiry"))
        return step, fields

    @extend_schema(request=EmailPreviewInput, responses=EmailPreviewOutput)
    @action(detail=True, methods=["post"])
    def preview(self, request, program_pk=None, pk=None):
        """The email rendered for a sample inquiry: merge fields, footer, unsubscribe link."""
        step, fields = self._render_input(request)
        shown = preview.render_step(step=step, **fields)
        return Response(EmailPreviewOutput(shown).data)

    @extend_schema(request=EmailPreviewInput, responses={202: TestSendOutput})
    @action(detail=True, methods=["post"], url_path="send-test")
    def send_test(self, request, program_pk=None, pk=None):
        """Mail the rendered email to you, its subject starting "[Test]"; nothing is recorded
        for the sample inquiry."""
        step, fields = self._render_input(request)
        message = preview.send_test(step=step, by=self.principal, **fields)
        return Response(
            TestSendOutput({"to": message.recipient, "outbox_message": message.pk}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class AudienceCountView(APIView):
    """``/api/v1/nurture/audience-count/``: how many people in nurture an (unsaved) rule fits."""

    permission_classes = [NurtureAccess]

    @extend_schema(request=AudienceInput, responses=AudienceCountOutput)
    def post(self, request):
        data = AudienceInput(data=request.data)
        data.is_valid(raise_exception=True)
        count = builder.audience_count(data.validated_data["audience"])
        return Response(AudienceCountOutput({"count": count}).data)
