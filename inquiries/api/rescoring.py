"""``/api/v1/rescore-jobs/``: the progress of rescoring after a definition is activated."""

from __future__ import annotations

from rest_framework import mixins, serializers

from inquiries.models import RescoreJob
from inquiries.selectors.rescoring import rescore_job_list
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import EDITORS


class RescoreJobOutput(serializers.ModelSerializer):
    definition_version = serializers.IntegerField(source="definition.version", read_only=True)
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = RescoreJob
        fields = [
            "id",
            "definition",
            "definition_version",
            "status",
            "total",
            "done",
            "percent",
            "as_of",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields


class RescoreJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Rescoring jobs, newest first, with their progress; activating a definition starts one."""

    model = RescoreJob
    serializer_class = RescoreJobOutput
    permission_classes = [role_required(*EDITORS)]

    def scoped_queryset(self):
        return rescore_job_list()
