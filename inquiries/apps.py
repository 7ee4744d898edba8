from django.apps import AppConfig


class InquiriesConfig(AppConfig):
    name = "inquiries"
    verbose_name = "Inquiries"

    def ready(self) -> None:
        from inquiries import stages, start_page

        stages.declare()
        # The start page (leadflow/) may not import this app: the app registers its tiles.
        start_page.register()
