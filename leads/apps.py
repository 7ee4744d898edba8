from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from leads import stages, start_page
        from leads.views import panels

        stages.declare()
        # The start page (leadflow/) and the inquiry page (inquiries/) may not import this
        # app: the app registers its tiles and its panel.
        start_page.register()
        panels.register()
        # The qualifier's touches and the person's history on the inquiry page (issue 23).
        from leads.views import desk

        desk.register()
