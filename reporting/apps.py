from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        # The dashboards' rollups follow every stage move (issue 22).
        from reporting.dashboards import hooks

        hooks.register()
