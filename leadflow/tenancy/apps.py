from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "leadflow.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from leadflow import outbox
        from leadflow.tenancy import checks, grants, services, start_page

        checks.register_runtime_role_check()
        # Invitation emails leave through the outbox; the sender derives the link.
        outbox.register_sender(
            "invitation", services.send_invitation, check=services.check_invitation_payload
        )

        # Not a business signal: after every `migrate` run as the owner role,
        # the runtime role must get its rights on whatever tables now exist.
        post_migrate.connect(grants.grant_runtime_role, dispatch_uid="leadflow-grant-runtime")
        start_page.register()
