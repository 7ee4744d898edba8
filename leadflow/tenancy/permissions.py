"""Who may call what: a principal of the tenant, and optionally one of some roles."""

from __future__ import annotations

from rest_framework import permissions

from leadflow.tenancy.principal import Principal


class IsTenantCaller(permissions.BasePermission):
    """Any authenticated member, tenant key or partner key of a tenant."""

    message = "Authentication credentials were not provided."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Principal)


class IsPerson(IsTenantCaller):
    """A person (through a user token or the session), whatever their role; not an API key."""

    message = "Only a person has API tokens; an API key cannot manage them."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.auth.user is not None


def role_required(
    *roles: str, read_roles: tuple[str, ...] = ()
) -> type[permissions.BasePermission]:
    """Members (not partners) with one of ``roles``; ``read_roles`` may also read."""

    class RolePermission(IsTenantCaller):
        message = "Your role may not do this."

        def has_permission(self, request, view) -> bool:
            if not super().has_permission(request, view):
                return False
            principal: Principal = request.auth
            if principal.is_partner:
                return False
            if request.method in permissions.SAFE_METHODS and principal.has_role(*read_roles):
                return True
            return principal.has_role(*roles)

    RolePermission.__name__ = f"RolePermission_{'_'.join(roles)}"
    return RolePermission
