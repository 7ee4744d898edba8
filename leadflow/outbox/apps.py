from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "leadflow.outbox"
    label = "outbox"
    verbose_name = "Outbox"

    def ready(self) -> None:
        from leadflow.outbox import email, endpoints, senders, start_page, webhooks

        senders.register_sender("email", email.send_email, check=email.check_payload)
        senders.register_sender(
            "webhook",
            webhooks.send_webhook,
            check=webhooks.check_payload,
            retry_delays=webhooks.RETRY_DELAYS,
        )
        endpoints.connect()
        start_page.register()
