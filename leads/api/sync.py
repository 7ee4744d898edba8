"""``POST /api/v1/leads/sync/``: up to 1,000 weekly updates in one request, each on its own.

A mixin of ``LeadViewSet``. The body is ``{"items": [...]}``; each item is
the body of ``POST /api/v1/leads/{id}/updates/`` plus ``lead`` (its id) and an
optional ``next_step`` (``{"on", "action"}``, as ``…/next-step/``). An item
whose shape is wrong fails alone, like one a rule refuses; the others are
saved (``leads.services.sync``). The answer is 200 with one result per item
in order — not 207 Multi-Status, which DRF clients and OpenAPI tools handle
poorly; read ``ok`` of each item (and ``failed``). ``Idempotency-Key`` is
honoured by the middleware: a retried sync replays its first answer.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from inquiries.api.serializers import StrictSerializer
from leadflow.lib.query_fields import ID_MAX
from leads.api.lifecycle import NextStepInput
from leads.api.touches import UpdateInput
from leads.services.sync import MAX_ITEMS, SyncItem, SyncOutcome, check_size, sync_updates


class SyncItemInput(UpdateInput):
    lead = serializers.IntegerField(min_value=1, max_value=ID_MAX, help_text="The lead's id.")
    next_step = NextStepInput(
        required=False,
        allow_null=True,
        default=None,
        help_text="Set the next step too (progress updates only), as `…/next-step/`.",
    )


class SyncInput(StrictSerializer):
    items = serializers.ListField(
        child=serializers.JSONField(),
        help_text=f"1 to {MAX_ITEMS} items; each is checked and saved on its own.",
    )


class SyncItemOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `items`, from 0.")
    lead = serializers.IntegerField(allow_null=True)
    ok = serializers.BooleanField()
    update = serializers.IntegerField(
        required=False, help_text="The weekly update's id (when `ok`)."
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Why the item was refused (when not `ok`): `{field: [message]}`.",
    )


class SyncOutput(serializers.Serializer):
    saved = serializers.IntegerField()
    failed = serializers.IntegerField()
    items = SyncItemOutput(many=True)


def _lead_id(raw: Any) -> int | None:
    value = raw.get("lead") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _refused(index: int, raw: Any, errors: Any) -> SyncOutcome:
    flat = {
        name: [str(message) for message in (messages if isinstance(messages, list) else [messages])]
        for name, messages in (errors.items() if isinstance(errors, dict) else [])
    }
    return SyncOutcome(index=index, lead=_lead_id(raw), errors=flat)


def _answer(outcome: SyncOutcome) -> dict[str, Any]:
    if outcome.ok:
        return {
            "index": outcome.index,
            "lead": outcome.lead,
            "ok": True,
            "update": outcome.update_id,
        }
    return {"index": outcome.index, "lead": outcome.lead, "ok": False, "errors": outcome.errors}


class LeadSyncMixin:
    """The ``sync`` action of ``/api/v1/leads/`` (mixed into ``LeadViewSet``)."""

    principal: Any

    @extend_schema(
        request=SyncInput,
        responses={
            200: SyncOutput,
            400: OpenApiResponse(
                description=f"No `items`, not a list, or more than {MAX_ITEMS}: nothing written."
            ),
        },
        summary="Report on many leads at once (bulk weekly updates)",
        description=f"Up to {MAX_ITEMS} items, each the body of `POST …/{{id}}/updates/` plus "
        "`lead` and an optional `next_step`. Each item is checked and saved on its own (a "
        "savepoint): a refused item writes nothing and says why, the others are saved. A lead "
        'the caller may not see fails as `{"lead": ["Not found."]}`. Always 200 when the '
        "body is a list of items: read each item's `ok`.",
        examples=[
            OpenApiExample(
                "Two leads",
                request_only=True,
                value={
                    "items": [
                        {
                            "lead": 7,
                            "status": "progress",
                            "note": "Demo on Tuesday.",
                            "touch": {"kind": "call", "outcome": "reached"},
                            "next_step": {"on": "2027-01-12", "action": "Run the demo"},
                        },
                        {"lead": 9, "week": "2026-W49", "status": "won", "value": "12500.00"},
                    ]
                },
            ),
            OpenApiExample(
                "One saved, one refused",
                response_only=True,
                status_codes=["200"],
                value={
                    "saved": 1,
                    "failed": 1,
                    "items": [
                        {"index": 0, "lead": 7, "ok": True, "update": 311},
                        {
                            "index": 1,
                            "lead": 9,
                            "ok": False,
                            "errors": {"value": ["A won deal has a value."]},
                        },
                    ],
                },
            ),
        ],
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def sync(self, request: Request) -> Response:
        body = SyncInput(data=request.data)
        body.is_valid(raise_exception=True)
        raw_items = body.validated_data["items"]
        check_size(len(raw_items))  # 400 before anything is written
        outcomes: dict[int, SyncOutcome] = {}
        valid: list[SyncItem] = []
        for index, raw in enumerate(raw_items):
            if not isinstance(raw, dict):
                outcomes[index] = _refused(index, raw, {"item": ["Each item is an object."]})
                continue
            data = SyncItemInput(data=raw)
            if not data.is_valid():
                outcomes[index] = _refused(index, raw, data.errors)
                continue
            fields = dict(data.validated_data)
            lead = fields.pop("lead")
            next_step = fields.pop("next_step")
            fields["week"] = fields.pop("week") or None
            fields["touch"] = fields.pop("touch") or None
            valid.append(SyncItem(index=index, lead=lead, update=fields, next_step=next_step))
        for outcome in sync_updates(items=valid, by=self.principal):
            outcomes[outcome.index] = outcome
        answers = [_answer(outcomes[index]) for index in sorted(outcomes)]
        saved = sum(1 for answer in answers if answer["ok"])
        return Response({"saved": saved, "failed": len(answers) - saved, "items": answers})
