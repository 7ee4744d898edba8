import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
application = get_wsgi_application()

# Django's WSGI handler runs no system checks; a gunicorn worker must refuse to
# serve with a database role that row-level security does not bind.
from leadflow.tenancy.checks import require_safe_database_role  # noqa: E402

require_safe_database_role()
