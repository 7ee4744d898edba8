from leadflow.tenancy.models import Role
from leadflow.tenancy.roles import MANAGERS, MARKETING


def tenancy(request):
    """The acting principal, the tenants to switch to, and which menu entries the role sees."""
    principal = getattr(request, "principal", None)
    role = principal.role if principal else None
    member = principal is not None and not principal.is_partner
    marketing = member and role in MARKETING
    partner = principal is not None and principal.is_partner
    return {
        "principal": principal,
        "memberships": getattr(request, "memberships", []),
        "nav": {
            "partners": role in MANAGERS,
            "members": member and role in (Role.ADMIN, Role.MANAGER),
            "outbox": member and role == Role.ADMIN,
            "inquiries": marketing,
            "definitions": marketing,
            # Qualifiers read campaigns (as in the API); admins, managers, marketers change them.
            "campaigns": marketing,
            # A rep's week of leads; managers and admins have the team's leads.
            "my_week": (member and role == Role.REP) or partner,
            "team_leads": member and role in MANAGERS,
            # The partner portal: the partner's API keys; managers' view of all partners.
            "partner_keys": partner,
            "partner_overview": member and role in MANAGERS,
            # Deal registrations: a partner's users register theirs; managers read all.
            "deals": principal is not None and (principal.is_partner or role in MANAGERS),
            # Nurture programs (issue 19): marketing's, qualifiers read them.
            "nurture": member and role in (Role.ADMIN, Role.MARKETER, Role.QUALIFIER),
        },
    }
