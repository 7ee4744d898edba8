"""Every API route refuses anonymous and bad-key callers with 401."""

import pytest
from rest_framework.test import APIClient

ROUTES = [
    ("get", "/api/v1/me/"),
    ("get", "/api/v1/partners/"),
    ("post", "/api/v1/partners/"),
    ("get", "/api/v1/partners/1/"),
    ("post", "/api/v1/partners/1/suspend/"),
    ("post", "/api/v1/partners/1/reactivate/"),
    ("get", "/api/v1/api-keys/"),
    ("post", "/api/v1/api-keys/"),
    ("get", "/api/v1/api-keys/1/"),
    ("post", "/api/v1/api-keys/1/revoke/"),
    ("get", "/api/v1/tokens/"),
    ("post", "/api/v1/tokens/"),
    ("get", "/api/v1/tokens/1/"),
    ("post", "/api/v1/tokens/1/revoke/"),
    ("get", "/api/v1/audit-events/"),
    ("get", "/api/v1/audit-events/1/"),
    ("get", "/api/v1/members/"),
    ("get", "/api/v1/members/1/"),
    ("get", "/api/v1/invitations/"),
    ("post", "/api/v1/invitations/"),
    ("get", "/api/v1/invitations/1/"),
    ("post", "/api/v1/invitations/1/resend/"),
    ("post", "/api/v1/invitations/1/revoke/"),
    ("get", "/api/v1/inquiries/"),
    ("post", "/api/v1/inquiries/"),
    ("get", "/api/v1/inquiries/1/"),
    ("patch", "/api/v1/inquiries/1/"),
    ("get", "/api/v1/inquiries/1/activities/"),
    ("post", "/api/v1/inquiries/bulk/"),
    ("get", "/api/v1/inquiries/export.csv"),
    ("get", "/api/v1/inquiries/bulk-jobs/"),
    ("get", "/api/v1/inquiries/bulk-jobs/1/"),
    ("post", "/api/v1/inquiries/bulk-jobs/1/cancel/"),
    ("get", "/api/v1/inquiries/saved-views/"),
    ("post", "/api/v1/inquiries/saved-views/"),
    ("get", "/api/v1/inquiries/saved-views/1/"),
    ("delete", "/api/v1/inquiries/saved-views/1/"),
    ("get", "/api/v1/disqualify-reasons/"),
    ("post", "/api/v1/disqualify-reasons/"),
    ("get", "/api/v1/disqualify-reasons/1/"),
    ("patch", "/api/v1/disqualify-reasons/1/"),
    ("post", "/api/v1/inquiries/1/activities/"),
    ("post", "/api/v1/inquiries/1/appointment/"),
    ("get", "/api/v1/inquiries/1/merge/"),
    ("post", "/api/v1/inquiries/1/merge/"),
    ("get", "/api/v1/inquiries/duplicates/"),
    ("get", "/api/v1/inquiries/imports/"),
    ("post", "/api/v1/inquiries/imports/"),
    ("get", "/api/v1/inquiries/imports/1/"),
    ("post", "/api/v1/inquiries/imports/1/mapping/"),
    ("post", "/api/v1/inquiries/imports/1/dry-run/"),
    ("post", "/api/v1/inquiries/imports/1/start/"),
    ("post", "/api/v1/inquiries/imports/1/cancel/"),
    ("get", "/api/v1/inquiries/imports/1/errors/"),
    ("get", "/api/v1/inquiries/imports/1/report/"),
    ("get", "/api/v1/inquiries/import-mappings/"),
    ("get", "/api/v1/inquiries/import-mappings/1/"),
    ("get", "/api/v1/campaigns/"),
    ("post", "/api/v1/campaigns/"),
    ("get", "/api/v1/campaigns/1/"),
    ("patch", "/api/v1/campaigns/1/"),
    ("get", "/api/v1/custom-fields/"),
    ("post", "/api/v1/custom-fields/"),
    ("get", "/api/v1/custom-fields/1/"),
    ("patch", "/api/v1/custom-fields/1/"),
    ("get", "/api/v1/lead-definitions/"),
    ("post", "/api/v1/lead-definitions/"),
    ("get", "/api/v1/lead-definitions/1/"),
    ("patch", "/api/v1/lead-definitions/1/"),
    ("post", "/api/v1/lead-definitions/1/copy/"),
    ("post", "/api/v1/lead-definitions/1/sign/"),
    ("post", "/api/v1/lead-definitions/1/activate/"),
    ("get", "/api/v1/lead-definitions/1/what-if/"),
    ("post", "/api/v1/lead-definitions/suggest/"),
    ("get", "/api/v1/rescore-jobs/"),
    ("get", "/api/v1/rescore-jobs/1/"),
    ("get", "/api/v1/leads/"),
    ("get", "/api/v1/leads/1/"),
    ("get", "/api/v1/leads/1/touches/"),
    ("post", "/api/v1/leads/1/touches/"),
    ("get", "/api/v1/leads/1/updates/"),
    ("post", "/api/v1/leads/1/updates/"),
    ("post", "/api/v1/leads/1/accept/"),
    ("post", "/api/v1/leads/1/reject/"),
    ("post", "/api/v1/leads/1/qualify/"),
    ("post", "/api/v1/leads/1/next-step/"),
    ("post", "/api/v1/leads/1/reassign/"),
    ("post", "/api/v1/leads/1/reopen/"),
    ("get", "/api/v1/outbox/failed/"),
    ("post", "/api/v1/outbox/1/retry/"),
    ("get", "/api/v1/appointments/1/"),
    ("patch", "/api/v1/appointments/1/"),
    ("post", "/api/v1/appointments/1/cancel/"),
    ("post", "/api/v1/appointments/1/held/"),
    ("post", "/api/v1/appointments/1/no-show/"),
    ("get", "/api/v1/lead-settings/"),
    ("patch", "/api/v1/lead-settings/"),
    ("get", "/api/v1/targets/"),
    ("post", "/api/v1/targets/"),
    ("delete", "/api/v1/targets/1/"),
]


def test_route_list_covers_every_api_route():
    from django.urls import get_resolver

    patterns = {
        str(p.pattern) for p in get_resolver().url_patterns if str(p.pattern).startswith("api/v1/")
    }
    assert patterns == {"api/v1/"}
    from leadflow.urls import api_v1

    named = {p.name for p in api_v1} - {"schema"}
    assert named == {
        "me",
        "partner-list",
        "partner-detail",
        "partner-suspend",
        "partner-reactivate",
        "api-key-list",
        "api-key-detail",
        "api-key-revoke",
        "user-token-list",
        "user-token-detail",
        "user-token-revoke",
        "audit-event-list",
        "audit-event-detail",
        "member-list",
        "member-detail",
        "invitation-list",
        "invitation-detail",
        "invitation-resend",
        "invitation-revoke",
        "inquiry-list",
        "inquiry-detail",
        "inquiry-activities",
        "inquiry-bulk",
        "inquiry-export",
        "bulk-job-list",
        "bulk-job-detail",
        "bulk-job-cancel",
        "saved-view-list",
        "saved-view-detail",
        "disqualify-reason-list",
        "disqualify-reason-detail",
        "inquiry-appointment",
        "inquiry-merge",
        "inquiry-duplicates",
        "import-job-list",
        "import-job-detail",
        "import-job-mapping",
        "import-job-dry-run",
        "import-job-start",
        "import-job-cancel",
        "import-job-errors",
        "import-job-report",
        "outbox-message-failed",
        "outbox-message-retry",
        "import-mapping-list",
        "import-mapping-detail",
        "campaign-list",
        "campaign-detail",
        "custom-field-list",
        "custom-field-detail",
        "lead-definition-list",
        "lead-definition-detail",
        "lead-definition-copy",
        "lead-definition-sign",
        "lead-definition-activate",
        "lead-definition-what-if",
        "lead-definition-suggest",
        "rescore-job-list",
        "rescore-job-detail",
        "lead-list",
        "lead-detail",
        "appointment-detail",
        "appointment-cancel",
        "appointment-held",
        "appointment-no-show",
        "lead-touches",
        "lead-updates",
        "lead-accept",
        "lead-reject",
        "lead-qualify",
        "lead-next-step",
        "lead-reassign",
        "lead-reopen",
        "lead-settings",
        "target-list",
        "target-detail",
    }


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_caller_gets_401(db, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_bad_key_gets_401(actors, method, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer lfk_{actors.tenant_a.pk}_{'z' * 43}")
    assert getattr(client, method)(path, {}, format="json").status_code == 401


def test_openapi_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "bearer:" in text
    assert "/api/v1/partners/{id}/suspend/" in text
