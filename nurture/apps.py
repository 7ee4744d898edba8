from django.apps import AppConfig


class NurtureConfig(AppConfig):
    name = "nurture"
    verbose_name = "Nurture"

    def ready(self) -> None:
        from nurture import services

        # The one sanctioned hook: inquiries moves people to nurture without importing this app.
        services.register()
