"""Django admin for tenant admins: their own tenant's rows, read-only, changes via services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import services
from leadflow.tenancy.models import ApiKey, AuditEvent, Membership, Partner, Role


class TenantAdminSite(admin.AdminSite):
    site_header = "LeadFlow administration"
    site_title = "LeadFlow admin"
    index_title = "Your tenant"

    def has_permission(self, request) -> bool:
        principal = getattr(request, "principal", None)
        return bool(
            request.user.is_active and principal is not None and principal.has_role(Role.ADMIN)
        )


admin_site = TenantAdminSite(name="admin")


class TenantModelAdmin(admin.ModelAdmin):
    """Rows come from the scoped manager; nothing is edited in place (services do that)."""

    def has_view_permission(self, request, obj=None) -> bool:
        return admin_site.has_permission(request)

    def has_module_permission(self, request) -> bool:
        return admin_site.has_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another tenant's row and a missing row look the same: 404.
        raise Http404


@admin.register(Partner, site=admin_site)
class PartnerAdmin(TenantModelAdmin):
    list_display = ["name", "kind", "status", "contact_email", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "contact_email"]
    actions = ["suspend", "reactivate"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Needed for the actions; the form itself shows every field read-only.
        return admin_site.has_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def _apply(self, request, queryset, service, verb: str) -> None:
        for partner in queryset:
            try:
                service(partner=partner, by=request.principal)
                self.message_user(request, f"{partner.name} {verb}.")
            except RuleViolation as exc:
                self.message_user(request, f"{partner.name}: {exc.message}", messages.WARNING)

    @admin.action(description="Suspend the selected partners")
    def suspend(self, request, queryset):
        self._apply(request, queryset, services.suspend_partner, "suspended")

    @admin.action(description="Reactivate the selected partners")
    def reactivate(self, request, queryset):
        self._apply(request, queryset, services.reactivate_partner, "reactivated")


@admin.register(Membership, site=admin_site)
class MembershipAdmin(TenantModelAdmin):
    list_display = ["person", "email", "role_shown", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    list_select_related = ["user", "partner"]

    @admin.display(description="Person", ordering="user__full_name")
    def person(self, membership: Membership) -> str:
        return membership.user.display_name

    @admin.display(description="Email", ordering="user__email")
    def email(self, membership: Membership) -> str:
        return membership.user.email

    @admin.display(description="Role", ordering="role")
    def role_shown(self, membership: Membership) -> str:
        return membership.role_label


@admin.register(ApiKey, site=admin_site)
class ApiKeyAdmin(TenantModelAdmin):
    list_display = ["name", "prefix", "partner", "role", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["partner"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        return admin_site.has_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "key_hash"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            try:
                services.revoke_api_key(api_key=key, by=request.principal)
                self.message_user(request, f"{key} revoked.")
            except RuleViolation as exc:
                self.message_user(request, f"{key}: {exc.message}", messages.WARNING)


@admin.register(AuditEvent, site=admin_site)
class AuditEventAdmin(TenantModelAdmin):
    list_display = ["created_at", "who", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor"]
    search_fields = ["object_repr", "actor_label", "actor__full_name"]

    @admin.display(description="By", ordering="actor_label")
    def who(self, event: AuditEvent) -> str:
        """The person by name (the label recorded at the time when there is no person)."""
        return event.actor.display_name if event.actor is not None else event.actor_label
