"""Settings for ``bench/partner_api.py``'s gunicorn: the app's, with the baseline's URL added."""

from leadflow.settings import *  # noqa: F403

ROOT_URLCONF = "partner_api_urls"
