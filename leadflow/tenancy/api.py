"""API: the caller (``/me/``), partners, API keys, people's tokens, audit trail, members."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from leadflow.lib.json_input import JsonTypedInput
from leadflow.lib.openapi import documented
from leadflow.tenancy import selectors, services
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import (
    ApiKey,
    AuditEvent,
    Invitation,
    InvitationStatus,
    Membership,
    Partner,
    PartnerKind,
    PartnerTier,
    Role,
    UserToken,
)
from leadflow.tenancy.permissions import IsPerson, IsTenantCaller, role_required
from leadflow.tenancy.roles import MANAGERS


class TenantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField()
    currency = serializers.CharField()


class PartnerOutput(serializers.ModelSerializer):
    weight = serializers.SerializerMethodField(
        help_text="The router's turns for this partner for a rep's one (from its tier)."
    )
    capacity = serializers.IntegerField(
        allow_null=True, help_text="The most open leads it may hold; null: no cap."
    )

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "contact_email",
            "created_at",
            "suspended_at",
            "tier",
            "weight",
            "capacity",
        ]

    def get_weight(self, partner: Partner) -> int:
        return selectors.tier_weight(partner.tier)


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True,
        help_text="The calling person's user id (what `rep` takes elsewhere); null for an API key.",
    )
    tenant = TenantOutput()
    via = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    email = serializers.EmailField(allow_null=True)
    partner = PartnerOutput(allow_null=True)


class MeView(APIView):
    """The calling user or partner: tenant, role or partner, and how it authenticated."""

    @extend_schema(
        responses=MeOutput,
        examples=[
            OpenApiExample(
                "A person",
                response_only=True,
                value={
                    "id": 7,
                    "tenant": {
                        "id": 1,
                        "slug": "acme",
                        "name": "Acme Robotics",
                        "timezone": "America/Chicago",
                        "currency": "USD",
                    },
                    "via": "user_token",
                    "role": "manager",
                    "email": "morgan@acme.example",
                    "partner": None,
                },
            )
        ],
    )
    def get(self, request):
        principal = request.auth
        return Response(
            MeOutput(
                {
                    "id": principal.user.pk if principal.user else None,
                    "tenant": principal.tenant,
                    "via": principal.via,
                    "role": principal.role,
                    "email": principal.user.email if principal.user else None,
                    "partner": principal.partner,
                }
            ).data
        )


class PartnerInput(JsonTypedInput, serializers.Serializer):
    rejects_unknown_fields = True
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=PartnerKind.choices)
    contact_email = serializers.EmailField(required=False, allow_blank=True, max_length=254)


class PartnerRoutingInput(JsonTypedInput, serializers.Serializer):
    rejects_unknown_fields = True
    tier = serializers.ChoiceField(
        choices=PartnerTier.choices,
        required=False,
        help_text="platinum (4 turns for a rep's 1), gold (3), silver (2), registered (1).",
    )
    capacity = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="0 to 100,000 open leads at once; null: no cap.",
    )


class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Channel partners; admins register them, managers read; both set a partner's tier and
    capacity (PATCH) and suspend and reactivate it (issue 17: managers too)."""

    permission_classes = [role_required(Role.ADMIN, read_roles=(Role.MANAGER,))]
    serializer_class = PartnerOutput
    model = Partner

    def get_permissions(self):
        if self.action in ("partial_update", "suspend", "reactivate"):
            return [role_required(*MANAGERS)()]
        return super().get_permissions()

    def scoped_queryset(self):
        return selectors.partner_list()

    @extend_schema(
        request=PartnerRoutingInput,
        responses=PartnerOutput,
        examples=[
            OpenApiExample(
                "Gold, at most 40 open leads",
                request_only=True,
                value={"tier": "gold", "capacity": 40},
            )
        ],
    )
    def partial_update(self, request, pk=None):
        """Set the partner's tier and capacity (only the fields sent change)."""
        partner = self.get_object()
        data = PartnerRoutingInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        partner = services.set_partner_routing(
            partner=partner,
            tier=changes.get("tier", partner.tier),
            capacity=changes.get("capacity", partner.capacity),
            by=self.principal,
        )
        return Response(PartnerOutput(partner).data)

    @extend_schema(request=PartnerInput, responses={201: PartnerOutput})
    def create(self, request):
        data = PartnerInput(data=request.data)
        data.is_valid(raise_exception=True)
        partner = services.create_partner(**data.validated_data, by=self.principal)
        return Response(PartnerOutput(partner).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PartnerOutput)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        partner = services.suspend_partner(partner=self.get_object(), by=self.principal)
        return Response(PartnerOutput(partner).data)

    @extend_schema(request=None, responses=PartnerOutput)
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        partner = services.reactivate_partner(partner=self.get_object(), by=self.principal)
        return Response(PartnerOutput(partner).data)


class ApiKeyOutput(serializers.ModelSerializer):
    partner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "partner",
            "role",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]


class IssuedApiKeyOutput(ApiKeyOutput):
    key = serializers.CharField(
        allow_null=True,
        help_text="The secret, shown this once only; null in an Idempotency-Key replay.",
    )

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "key"]


class ApiKeyInput(JsonTypedInput, serializers.Serializer):
    rejects_unknown_fields = True
    name = serializers.CharField(max_length=100)
    partner = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_blank=True)

    def validate_partner(self, value):
        if value is None:
            return None
        partner = selectors.partner_list().filter(pk=value).first()
        if partner is None:
            raise serializers.ValidationError("No such partner.")
        return partner


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """API keys of the tenant's integrations and partners (admins only)."""

    permission_classes = [role_required(Role.ADMIN)]
    serializer_class = ApiKeyOutput
    model = ApiKey

    def scoped_queryset(self):
        return selectors.api_key_list()

    @extend_schema(request=ApiKeyInput, responses={201: IssuedApiKeyOutput})
    def create(self, request):
        data = ApiKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.issue_api_key(
            name=data.validated_data["name"],
            partner=data.validated_data.get("partner"),
            role=data.validated_data.get("role", ""),
            by=self.principal,
        )
        key = issued.credential
        key.key = issued.secret
        response = Response(IssuedApiKeyOutput(key).data, status=status.HTTP_201_CREATED)
        # A replay answers the same key without its secret, which must not be stored.
        key.key = None
        response.idempotent_replay_body = JSONRenderer().render(IssuedApiKeyOutput(key).data)
        return response

    @extend_schema(request=None, responses=ApiKeyOutput)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = services.revoke_api_key(api_key=self.get_object(), by=self.principal)
        return Response(ApiKeyOutput(key).data)


class TokenOwnerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(source="display_name", help_text="Their name, else their email.")


class UserTokenOutput(serializers.ModelSerializer):
    user = TokenOwnerOutput(help_text="The person the token acts as.")
    current = serializers.SerializerMethodField(
        help_text="Whether this request is authenticated with this token."
    )

    class Meta:
        model = UserToken
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "created_at",
            "last_used_at",
            "revoked_at",
            "current",
        ]

    def get_current(self, token: UserToken) -> bool:
        principal = self.context.get("principal")
        used = principal.user_token if principal is not None else None
        return used is not None and used.pk == token.pk


class IssuedUserTokenOutput(UserTokenOutput):
    token = serializers.CharField(
        allow_null=True,
        help_text="The secret, shown this once only. `null` when an `Idempotency-Key` replays "
        "the answer: the secret is never stored, only its SHA-256 digest.",
    )

    class Meta(UserTokenOutput.Meta):
        fields = [*UserTokenOutput.Meta.fields, "token"]


# A name with something to read in it: one that is only spaces is refused (400).
TokenName = documented(
    serializers.CharField, {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"}
)


class UserTokenInput(JsonTypedInput, serializers.Serializer):
    rejects_unknown_fields = True
    name = TokenName(max_length=100, help_text="What the token is for, e.g. `laptop` or `CI`.")


class UserTokenListQuery(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=["mine", "tenant"], required=False, allow_blank=True, default="mine"
    )


class UserTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """People's API tokens: each person lists, creates and revokes their own; admins any member's.

    Tokens belong to the tenant they were created in. A person's list is their
    own; ``?scope=tenant`` lists every member's (admins only). By id, a person
    reaches their own tokens and an admin every member's; anyone else's is 404.
    """

    permission_classes = [IsPerson]
    serializer_class = UserTokenOutput
    model = UserToken

    def scoped_queryset(self):
        if self.action == "list" and self._list_scope() == "tenant":
            return selectors.user_token_list()
        if self.action == "list":
            return selectors.my_token_list(principal=self.principal)
        return selectors.reachable_tokens(principal=self.principal)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "principal": self.principal}

    def _list_scope(self) -> str:
        query = UserTokenListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        scope = query.validated_data.get("scope") or "mine"
        if scope == "tenant" and not (
            self.principal.has_role(Role.ADMIN) and not self.principal.is_partner
        ):
            raise exceptions.PermissionDenied("Only admins list every member's tokens.")
        return scope

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "scope",
                str,
                enum=["mine", "tenant"],
                description="`mine` (default): your own tokens. `tenant`: every member's "
                "(admins only).",
            )
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=UserTokenInput, responses={201: IssuedUserTokenOutput})
    def create(self, request):
        data = UserTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.create_my_token(name=data.validated_data["name"], by=self.principal)
        token = issued.credential
        context = self.get_serializer_context()
        token.token = issued.secret
        response = Response(
            IssuedUserTokenOutput(token, context=context).data, status=status.HTTP_201_CREATED
        )
        # What an Idempotency-Key replay answers: the same token without its secret,
        # which must not be stored (leadflow/tenancy/idempotency.py).
        token.token = None
        response.idempotent_replay_body = JSONRenderer().render(
            IssuedUserTokenOutput(token, context=context).data
        )
        return response

    @extend_schema(request=None, responses=UserTokenOutput)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = services.revoke_user_token(token=self.get_object(), by=self.principal)
        return Response(UserTokenOutput(token, context=self.get_serializer_context()).data)


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
        ]


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The tenant's audit trail, newest first (admins and managers)."""

    permission_classes = [role_required(*MANAGERS)]
    serializer_class = AuditEventOutput
    model = AuditEvent

    def scoped_queryset(self):
        return selectors.audit_event_list()


class PartnerRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MemberOutput(serializers.ModelSerializer):
    user_id = serializers.IntegerField(
        help_text="The person's user id: what `rep` takes in a lead's `/reassign/`, a booking, "
        "and `owner=rep:<user id>`; `id` is the membership's."
    )
    name = serializers.CharField(
        source="user.display_name", help_text="As LeadFlow shows them: their name, else email."
    )
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    display_name = serializers.CharField(source="user.display_name")
    partner = PartnerRef(allow_null=True)
    role_label = serializers.CharField()
    last_login = serializers.DateTimeField(source="user.last_login", allow_null=True)
    leave_from = serializers.DateField(
        allow_null=True, help_text="First day of leave (tenant's dates); null: no leave set."
    )
    leave_until = serializers.DateField(
        allow_null=True,
        help_text="Last day of leave, included; null with `leave_from`: open-ended.",
    )
    on_leave = serializers.SerializerMethodField(
        help_text="Whether today, in the tenant's time zone, is a day of leave."
    )
    capacity = serializers.IntegerField(
        allow_null=True, help_text="The most open leads they may hold; null: no cap."
    )
    timezone = serializers.CharField(
        source="user.timezone", help_text="Their own IANA time zone; blank: the tenant's."
    )

    class Meta:
        model = Membership
        fields = [
            "id",
            "user_id",
            "name",
            "email",
            "full_name",
            "display_name",
            "role",
            "partner",
            "role_label",
            "is_active",
            "deactivated_at",
            "last_login",
            "created_at",
            "leave_from",
            "leave_until",
            "on_leave",
            "capacity",
            "timezone",
        ]

    def get_on_leave(self, membership: Membership) -> bool:
        today = self.context.get("today")
        if today is None:
            today = services.tenant_today(membership.tenant)
        return membership.on_leave(today)


class MemberAvailabilityInput(JsonTypedInput, serializers.Serializer):
    """Only the fields sent change; the rules are the service's (a 400 names the field)."""

    rejects_unknown_fields = True
    leave_from = serializers.DateField(
        required=False, allow_null=True, help_text="First day of leave; null clears the leave."
    )
    leave_until = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Last day, included, not before `leave_from`; null: open-ended. Both within "
        "a year back and two years ahead.",
    )
    capacity = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="0 to 1000 open leads; null: no cap. Admins and managers only.",
    )
    timezone = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="An IANA zone (Europe/Berlin); blank: the tenant's.",
    )


class MemberListQuery(serializers.Serializer):
    active = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        help_text="true: active members only; false: deactivated ones only. Managers see "
        "active members only.",
    )


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The tenant's members with role and status: admins all of them, managers the active ones
    (so an integration can name a lead's owner by ``user_id``); invite people with
    /invitations/."""

    permission_classes = [role_required(Role.ADMIN, read_roles=(Role.MANAGER,))]
    serializer_class = MemberOutput
    model = Membership

    def get_permissions(self):
        if self.action == "partial_update":
            # Who may change whose availability is the service's rule (403 otherwise).
            return [IsTenantCaller()]
        return super().get_permissions()

    def scoped_queryset(self):
        members = selectors.member_list()
        if self.action != "partial_update" and not self.principal.has_role(Role.ADMIN):
            members = members.filter(is_active=True)
        return members

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        return {**context, "today": services.tenant_today(self.principal.tenant)}

    @extend_schema(
        request=MemberAvailabilityInput,
        responses=MemberOutput,
        examples=[
            OpenApiExample(
                "Away for the holidays, at most 25 open leads",
                request_only=True,
                value={"leave_from": "2026-12-21", "leave_until": "2027-01-03", "capacity": 25},
            )
        ],
    )
    def partial_update(self, request, pk=None):
        """Set a member's leave, capacity and time zone: admins and managers anyone's; a member
        their own leave and time zone (not capacity); anyone else 403."""
        membership = self.get_object()
        data = MemberAvailabilityInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        membership = services.set_member_availability(
            membership=membership,
            leave_from=changes.get("leave_from", membership.leave_from),
            leave_until=changes.get("leave_until", membership.leave_until),
            capacity=changes.get("capacity", membership.capacity),
            timezone=changes.get("timezone", membership.user.timezone),
            by=self.principal,
        )
        membership = selectors.member_list().get(pk=membership.pk)
        return Response(self.get_serializer(membership).data)

    @extend_schema(
        parameters=[MemberListQuery],
        examples=[
            OpenApiExample(
                "A rep",
                response_only=True,
                value={
                    "id": 14,
                    "user_id": 31,
                    "name": "Robin Rep",
                    "email": "robin@example.com",
                    "full_name": "Robin Rep",
                    "display_name": "Robin Rep",
                    "role": "rep",
                    "partner": None,
                    "role_label": "Rep",
                    "is_active": True,
                    "deactivated_at": None,
                    "last_login": "2026-12-04T08:10:00Z",
                    "created_at": "2026-11-02T09:00:00Z",
                    "leave_from": "2026-12-21",
                    "leave_until": "2027-01-03",
                    "on_leave": False,
                    "capacity": 25,
                    "timezone": "",
                },
            )
        ],
    )
    def list(self, request, *args, **kwargs):
        query = MemberListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        members = self.filter_queryset(self.get_queryset())
        if "active" in query.validated_data:
            members = members.filter(is_active=query.validated_data["active"] == "true")
        page = self.paginate_queryset(members)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class InvitationOutput(serializers.ModelSerializer):
    partner = PartnerRef(allow_null=True)
    role_label = serializers.CharField()
    status = serializers.ChoiceField(
        source="state",
        choices=InvitationStatus.choices,
        help_text="`expired`: pending past `expires_at` (resend it for a new link).",
    )
    invited_by = serializers.EmailField(source="invited_by.email", allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "partner",
            "role_label",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
            "sent_at",
            "accepted_at",
            "revoked_at",
        ]


class InvitationInput(JsonTypedInput, serializers.Serializer):
    rejects_unknown_fields = True
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=Role.choices, help_text="With `partner`, the role must be `rep`."
    )
    partner = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="An active partner of the tenant: the person will act for it.",
    )

    def validate_partner(self, value):
        if value is None:
            return None
        partner = selectors.partner_list().filter(pk=value).first()
        if partner is None:
            raise serializers.ValidationError("No such partner.")
        return partner


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Invitations by email (admins): invite, resend (a new link) and revoke.

    The link goes to the invited person by email only; it is never in a response.
    """

    permission_classes = [role_required(Role.ADMIN)]
    serializer_class = InvitationOutput
    model = Invitation

    def scoped_queryset(self):
        return selectors.invitation_list().order_by("-created_at", "-id")

    def _base_url(self) -> str:
        return self.request.build_absolute_uri("/")

    @extend_schema(request=InvitationInput, responses={201: InvitationOutput})
    def create(self, request):
        data = InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.invite_member(
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            partner=data.validated_data.get("partner"),
            base_url=self._base_url(),
            by=self.principal,
        )
        return Response(InvitationOutput(issued.invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvitationOutput)
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        issued = services.resend_invitation(
            invitation=self.get_object(), base_url=self._base_url(), by=self.principal
        )
        return Response(InvitationOutput(issued.invitation).data)

    @extend_schema(request=None, responses=InvitationOutput)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        invitation = services.revoke_invitation(invitation=self.get_object(), by=self.principal)
        return Response(InvitationOutput(invitation).data)
