from django.apps import AppConfig


class NurtureConfig(AppConfig):
    name = "nurture"
    verbose_name = "Nurture"

    def ready(self) -> None:
        from nurture import mail, panels, services, start_page, timeline

        # The one sanctioned hook: inquiries moves people to nurture without importing this app.
        services.register()
        # The outbox (leadflow/) imports no app: nurture names its email's sender.
        mail.register()
        start_page.register()
        panels.register()
        # leads' timeline may not import nurture: the enrollments and exits are a registered source.
        timeline.register()
