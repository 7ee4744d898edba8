"""Reads about tenants, members and credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import dateformat

from leadflow import outbox
from leadflow.lib import tokens
from leadflow.tenancy import invitation_links
from leadflow.tenancy.context import tenant_context, user_context
from leadflow.tenancy.models import (
    TIER_WEIGHTS,
    ApiKey,
    AuditEvent,
    Invitation,
    InvitationStatus,
    Membership,
    Partner,
    PartnerStatus,
    PartnerTier,
    Role,
    User,
    UserToken,
)
from leadflow.tenancy.principal import Principal


def partner_may_act(partner: Partner) -> bool:
    """Whether a partner's users and keys may act: active, or suspended by the reporting rule
    (which stops new leads, not the reporting that lifts it)."""
    return partner.status == PartnerStatus.ACTIVE or partner.suspended_by_rule


def memberships_of(*, user: User) -> list[Membership]:
    """The tenants the user may act in, for the tenant switcher.

    Crosses tenants on purpose: the row-level security policy ``own_rows``
    lets the acting user read their own memberships and nothing else. A
    deactivated membership is left out, and so is one for a partner suspended by
    hand: it lost access with the partner's keys. A partner suspended by the
    reporting rule keeps access: it only receives no new leads, and must be able to
    report its backlog to be reinstated.
    """
    with user_context(user):
        memberships = list(
            Membership.dangerously_all_tenants.filter(user=user, is_active=True)
            .select_related("tenant", "user")
            .order_by("tenant__name", "tenant_id")
        )
    usable = []
    for membership in memberships:
        if membership.partner_id is not None:
            # The partner row is visible only inside its own tenant (RLS), so
            # it is read there; partner users rarely belong to many tenants.
            with tenant_context(membership.tenant_id):
                membership.partner = Partner.objects.filter(pk=membership.partner_id).first()
            if membership.partner is None or not partner_may_act(membership.partner):
                continue
        usable.append(membership)
    return usable


def principal_for_session(
    *, memberships: list[Membership], tenant_id: int | None
) -> Principal | None:
    """The logged-in user's principal in the selected (or else first) of their tenants."""
    if not memberships:
        return None
    chosen = next((m for m in memberships if m.tenant_id == tenant_id), memberships[0])
    return Principal(
        tenant=chosen.tenant,
        role=chosen.role,
        via="session",
        user=chosen.user,
        membership=chosen,
        partner=chosen.partner,
    )


def principal_for_secret(secret: str) -> Principal | None:
    """The caller a bearer secret belongs to; ``None`` if unknown, revoked or suspended.

    The secret names its tenant, so the credential is read in that tenant's scope with
    its tenant joined: one query for a key (a partner's integration calls on every
    request), two for a user token (its membership).
    """
    parsed = tokens.parse(secret)
    if parsed is None:
        return None
    with tenant_context(parsed.tenant_id):
        if parsed.kind == tokens.API_KEY_KIND:
            key = (
                ApiKey.objects.select_related("partner", "tenant")
                .filter(key_hash=parsed.digest, revoked_at__isnull=True)
                .first()
            )
            if key is None or (key.partner and not partner_may_act(key.partner)):
                return None
            return Principal(
                tenant=key.tenant,
                role=key.role or None,
                via="api_key",
                api_key=key,
                partner=key.partner,
            )
        token = (
            UserToken.objects.select_related("user", "tenant")
            .filter(token_hash=parsed.digest, revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            return None
        membership = (
            Membership.objects.select_related("partner")
            .filter(user_id=token.user_id, is_active=True)
            .first()
        )
        if membership is None or (membership.partner and not partner_may_act(membership.partner)):
            return None
        return Principal(
            tenant=token.tenant,
            role=membership.role,
            via="user_token",
            user=token.user,
            user_token=token,
            membership=membership,
            partner=membership.partner,
        )


def partner_list() -> QuerySet[Partner]:
    """Partners of the current tenant, by name."""
    return Partner.objects.order_by("name", "id")


def api_key_list() -> QuerySet[ApiKey]:
    """API keys of the current tenant with their partner, newest first."""
    return ApiKey.objects.select_related("partner", "created_by").order_by("-created_at", "-id")


def my_token_list(*, principal: Principal) -> QuerySet[UserToken]:
    """The acting person's API tokens in this tenant: active first, then revoked, newest first.

    Tokens belong to one tenant (the id is in the secret), so the same person's
    tokens for another tenant are listed there, not here.
    """
    return (
        UserToken.objects.filter(user_id=principal.user.pk if principal.user else None)
        .select_related("user")
        .order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-id")
    )


def member_token_list(*, principal: Principal) -> QuerySet[UserToken]:
    """Every member's active API tokens but the acting admin's own, by person then newest.

    For the admin's section of the tokens page, where any member's token can be
    revoked; the admin's own tokens are in their own list above it.
    """
    return (
        UserToken.objects.filter(revoked_at__isnull=True)
        .exclude(user_id=principal.user.pk if principal.user else None)
        .select_related("user")
        .order_by("user__full_name", "user__email", "-created_at", "-id")
    )


def user_token_list() -> QuerySet[UserToken]:
    """All API tokens of the current tenant with their person, newest first (admins)."""
    return UserToken.objects.select_related("user").order_by("-created_at", "-id")


def reachable_tokens(*, principal: Principal) -> QuerySet[UserToken]:
    """The tokens ``principal`` may look up by id: their own, or every member's for an admin.

    Anything else, another person's token or another tenant's, is a miss and so a 404.
    """
    if principal.has_role(Role.ADMIN) and not principal.is_partner:
        return user_token_list()
    return my_token_list(principal=principal)


def audit_event_list() -> QuerySet[AuditEvent]:
    """The tenant's audit trail with the acting user, newest first."""
    return AuditEvent.objects.select_related("actor").order_by("-created_at", "-id")


def member_list() -> QuerySet[Membership]:
    """Members of the current tenant with their user and partner, by name as shown.

    Active members first; the partner is selected because ``role_label`` reads it.
    """
    shown_as = Lower(Coalesce(NullIf("user__full_name", Value("")), "user__email"))
    return Membership.objects.select_related("user", "partner").order_by(
        "-is_active", shown_as, "user__email", "id"
    )


def open_invitation_list() -> QuerySet[Invitation]:
    """The current tenant's pending invitations (expired ones too), newest first.

    With the partner (``role_label`` reads it) and the inviting person.
    """
    return (
        Invitation.objects.filter(status=InvitationStatus.PENDING)
        .select_related("partner", "invited_by")
        .order_by("-created_at", "-id")
    )


def with_email_state(invitations: list[Invitation]) -> list[Invitation]:
    """Give each invitation ``email_message``: the outbox message of its current link, or ``None``.

    One query for the whole list. A resend's earlier messages are left out:
    what matters on the page is whether the link that works now went out.
    ``None`` for an invitation sent before the outbox (its ``sent_at`` tells).
    """
    messages = {
        message.key: message
        for message in outbox.messages_for_each("invitation", [i.pk for i in invitations])
    }
    for invitation in invitations:
        # An attribute for the page, like an annotation: the model has no such field.
        invitation.email_message = messages.get(  # type: ignore[attr-defined]
            invitation_links.outbox_key(invitation)
        )
    return invitations


def invitation_list() -> QuerySet[Invitation]:
    """Every invitation of the current tenant (for lookups by id)."""
    return Invitation.objects.select_related("partner", "invited_by")


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link's token opens, in whatever state; ``None`` for an unknown token.

    Selects the tenant the token names for the lookup (row-level security);
    the caller acts on the invitation inside ``tenant_context(invitation.tenant)``.
    """
    tenant_id = invitation_links.tenant_of(token)
    if tenant_id is None:
        return None
    with tenant_context(tenant_id):
        return (
            Invitation.objects.select_related("tenant", "partner", "invited_by")
            .filter(token_hash=invitation_links.digest(token))
            .first()
        )


def reason_editors() -> list[User]:
    """The active admins and managers of the current tenant, who keep the disqualify reasons.

    Named to a marketer or qualifier who needs a reason added (who to ask).
    """
    members = (
        Membership.objects.filter(
            Q(role=Role.ADMIN) | Q(role=Role.MANAGER),
            is_active=True,
            partner__isnull=True,
            user__is_active=True,
        )
        .select_related("user")
        .order_by("role", Lower(Coalesce(NullIf("user__full_name", Value("")), "user__email")))
    )
    return [m.user for m in members]


def names_by_email(emails: set[str]) -> dict[str, str]:
    """The current tenant's members among ``emails``, by name (for stored details)."""
    if not emails:
        return {}
    members = Membership.objects.filter(user__email__in=emails).select_related("user")
    return {m.user.email: m.user.display_name for m in members if m.user.full_name.strip()}


def partner_counts() -> dict[str, int]:
    """The tenant's partners, active and suspended, in one query."""
    return Partner.objects.aggregate(
        active=Count("id", filter=Q(status=PartnerStatus.ACTIVE)),
        suspended=Count("id", filter=Q(status=PartnerStatus.SUSPENDED)),
    )


def user_exists(*, email: str) -> bool:
    """Whether someone already logs in with ``email`` (they accept an invitation as themselves)."""
    return User.objects.filter(email=email).exists()


def tier_weight(tier: str) -> int:
    """The router's turns for a partner of ``tier`` for a rep's one."""
    return TIER_WEIGHTS[PartnerTier(tier)]


def tier_weight_label(tier: str) -> str:
    """``Gold — 3 turns for a rep's 1``: a tier as a manager reads it."""
    weight = tier_weight(tier)
    return f"{PartnerTier(tier).label} — {weight} turn{'s' if weight != 1 else ''} for a rep's 1"


# A leave that ended this many days ago or less is still shown ("Back 12 Dec").
RECENTLY_BACK = timedelta(days=7)


@dataclass(frozen=True)
class LeaveBadge:
    """What the members list shows about a member's leave: ``away`` now, ``planned``, ``back``."""

    kind: str
    text: str


def _short_day(day: date, today: date) -> str:
    # Non-breaking spaces: a badge on a phone wraps before the day, never inside it.
    return dateformat.format(day, "j M" if day.year == today.year else "j M Y").replace(
        " ", "\u00a0"
    )


def leave_badge(membership: Membership, today: date) -> LeaveBadge | None:
    """The badge of a member's leave on ``today`` (the tenant's date); None: nothing to show.

    On leave: "On leave until 12 Dec" (or "On leave, no end date"); a leave to come:
    "Leave from 14 Dec"; a leave that ended in the last week: "Back 12 Dec" (the first day back).
    """
    start, end = membership.leave_from, membership.leave_until
    if start is None:
        return None
    if membership.on_leave(today):
        if end is None:
            return LeaveBadge("away", "On leave, no end date")
        return LeaveBadge("away", f"On leave until {_short_day(end, today)}")
    if start > today:
        return LeaveBadge("planned", f"Leave from {_short_day(start, today)}")
    if end is not None and today - end <= RECENTLY_BACK:
        return LeaveBadge("back", f"Back {_short_day(end + timedelta(days=1), today)}")
    return None
