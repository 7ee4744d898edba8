from django.apps import AppConfig


class InquiriesConfig(AppConfig):
    name = "inquiries"
    verbose_name = "Inquiries"

    def ready(self) -> None:
        from inquiries import jobs, stages, start_page

        stages.declare()
        # The stalled-job sweep (leadflow/) reaches this app's jobs through the registry.
        jobs.register()
        # The start page (leadflow/) may not import this app: the app registers its tiles.
        start_page.register()
