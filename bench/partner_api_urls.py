"""The URLs gunicorn serves in ``bench/partner_api.py``: the whole app, plus the baseline.

The baseline is a bare Django REST Framework view that inserts one row: no
authentication, permission, throttle or idempotency, one ``INSERT`` into a table
the benchmark creates (``bench_bare_row``). Never part of the product's URLs.
"""

from __future__ import annotations

from django.db import connection
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from leadflow.urls import urlpatterns as app_urlpatterns


class BareInsert(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO bench_bare_row (lead_id, status, note) VALUES (%s, %s, %s) "
                "RETURNING id",
                [request.data.get("lead"), request.data.get("status", ""), request.data["note"]],
            )
            row_id = cur.fetchone()[0]
        return Response({"id": row_id}, status=201)


urlpatterns = [path("bench/bare/", BareInsert.as_view()), *app_urlpatterns]
