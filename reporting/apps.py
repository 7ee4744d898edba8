from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        # The dashboards' rollups follow every stage move (issue 22).
        from reporting.dashboards import hooks

        hooks.register()
        # A nurture program's page counts its funnel with the dashboards' definition.
        from leadflow.lib import program_funnels
        from reporting.dashboards.selectors import program_funnel_counts

        program_funnels.register_counter(program_funnel_counts)
