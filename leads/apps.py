from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from leads import start_page

        # The start page (leadflow/) may not import this app: the app registers its tiles.
        start_page.register()
