"""Row-level security on the dashboards' rollup tables (issue 22), like every tenant table."""

from django.db import migrations

from leadflow.tenancy.migration_ops import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("reporting", "0001_rollups")]

    operations = [
        EnableRowLevelSecurity("funnelrollup"),
        EnableRowLevelSecurity("stagetimerollup"),
        EnableRowLevelSecurity("leadfact"),
        EnableRowLevelSecurity("rollupstate"),
        EnableRowLevelSecurity("rollupdirtyday"),
        EnableRowLevelSecurity("rollupdirtylead"),
    ]
