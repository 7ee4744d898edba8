"""English formats: a moment is shown the same way on every page, the admin included.

Django reads these before its own locale formats (``FORMAT_MODULE_PATH``), so
``{{ moment }}``, ``|date`` without an argument and the admin's lists use the
format of ``leadflow.lib.times``.
"""

from leadflow.lib.times import DAY_FORMAT, MOMENT_FORMAT

DATE_FORMAT = DAY_FORMAT
SHORT_DATE_FORMAT = DAY_FORMAT
DATETIME_FORMAT = MOMENT_FORMAT
SHORT_DATETIME_FORMAT = MOMENT_FORMAT
TIME_FORMAT = "H:i"
