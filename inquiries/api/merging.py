"""``/api/v1/inquiries/{id}/merge/`` and ``/api/v1/inquiries/duplicates/``: one person, one inquiry.

``GET .../merge/?others=2,3`` previews the merge field by field (with the
addresses kept as the survivor's additional emails), ``POST``
merges (``{"others": [2, 3], "confirm": true}``) and answers with the
survivor. An id that is not an inquiry of the caller's tenant — the survivor
or any of the others — is a 404 and nothing is written.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import InquiryOutput, StrictSerializer
from inquiries.models import Inquiry
from inquiries.selectors.inquiries import inquiry_list
from inquiries.selectors.merging import DuplicatePair, parse_cursor, possible_duplicates
from inquiries.services.merging import MAX_MERGE, FieldChoice, MergePreview
from inquiries.services.merging import merge_inquiries as merge_service
from inquiries.services.merging import preview_merge as preview_service
from leadflow.lib.ids import ids_pattern, parse_ids
from leadflow.lib.openapi import documented
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MARKETING

MAX_PAGE_SIZE = 200


IDS_PATTERN = ids_pattern(at_most=MAX_MERGE - 1)


class MergeInput(StrictSerializer):
    others = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=MAX_MERGE - 1,
        help_text="Ids of the inquiries to merge into this one; they are removed.",
    )
    confirm = documented(serializers.BooleanField, {"type": "boolean", "enum": [True]})(
        help_text="Must be true: a merge cannot be undone (the audit keeps the old rows)."
    )

    def validate_confirm(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("Set to true to merge; GET shows the preview.")
        return value


class PreviewQuery(serializers.Serializer):
    others = documented(serializers.CharField, {"type": "string", "pattern": IDS_PATTERN})(
        help_text="Comma-separated ids, e.g. 2,3."
    )

    def validate_others(self, value: str) -> list[int]:
        if len(value.split(",")) >= MAX_MERGE:
            raise serializers.ValidationError(f"Merge at most {MAX_MERGE} inquiries at once.")
        ids = parse_ids(value, at_most=MAX_MERGE - 1)
        if ids is None:
            raise serializers.ValidationError("Give comma-separated inquiry ids, e.g. 2,3.")
        return ids


class DuplicatesQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=50)
    after = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The previous page's `next_after`; one this list did not make is a 404.",
    )


def _value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _choice(choice: FieldChoice) -> dict[str, Any]:
    return {
        "field": choice.name,
        "label": choice.label,
        "values": [_value(v) for v in choice.values],
        "value": _value(choice.value),
        "winner": choice.winner_id,
        "rule": choice.rule,
        "reason": choice.reason,
    }


def preview_body(preview: MergePreview) -> dict[str, Any]:
    return {
        "survivor": preview.survivor.pk,
        "inquiries": [
            {
                "id": inquiry.pk,
                "name": inquiry.display_name,
                "email": inquiry.email,
                "stage": inquiry.stage,
                "activities": preview.activity_counts.get(inquiry.pk, 0),
                "additional_emails": list(preview.additional_emails.get(inquiry.pk, ())),
            }
            for inquiry in preview.inquiries
        ],
        "additional_emails": list(preview.kept_emails),
        "fields": [_choice(c) for c in preview.fields],
        "custom": [_choice(c) for c in preview.custom],
    }


def pair_body(pair: DuplicatePair) -> dict[str, Any]:
    def person(inquiry: Inquiry) -> dict[str, Any]:
        return {
            "id": inquiry.pk,
            "name": inquiry.display_name,
            "email": inquiry.email,
            "company": inquiry.company,
            "stage": inquiry.stage,
        }

    return {"first": person(pair.first), "second": person(pair.second), "reasons": pair.reasons}


def _others(ids: list[int]) -> list[Inquiry]:
    """The inquiries to merge, all of the caller's tenant, or 404."""
    found = inquiry_list().in_bulk(ids)
    if len(found) != len(set(ids)):
        raise Http404
    return [found[pk] for pk in dict.fromkeys(ids)]


_PREVIEW_SCHEMA = inline_serializer(
    "MergePreview",
    {
        "survivor": serializers.IntegerField(),
        "inquiries": serializers.ListField(child=serializers.DictField()),
        "additional_emails": serializers.ListField(
            child=serializers.EmailField(),
            help_text="The survivor's additional emails after the merge: every other "
            "address of the inquiries, matched by later captures and imports.",
        ),
        "fields": serializers.ListField(child=serializers.DictField()),
        "custom": serializers.ListField(child=serializers.DictField()),
    },
)


class MergeView(APIView):
    """Merge inquiries that are the same person into this one (the survivor).

    Profile fields and custom fields take the newest non-empty value, consent
    the strictest, the timeline is combined and the score recomputed. A lead
    can only be the survivor.
    """

    permission_classes = [role_required(*MARKETING)]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "others",
                {"type": "string", "pattern": IDS_PATTERN},
                required=True,
                description="Comma-separated ids of the other inquiries, e.g. 2,3.",
            )
        ],
        responses={200: _PREVIEW_SCHEMA},
    )
    def get(self, request, pk: int):
        """Preview the merge field by field: every inquiry's value, the winner and why."""
        survivor = get_object_or_404(inquiry_list(), pk=pk)
        query = PreviewQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        others = _others(query.validated_data["others"])
        return Response(preview_body(preview_service(survivor=survivor, others=others)))

    @extend_schema(request=MergeInput, responses={200: InquiryOutput})
    def post(self, request, pk: int):
        """Merge the others into this inquiry; answers with the survivor."""
        survivor = get_object_or_404(inquiry_list(), pk=pk)  # another tenant's is 404 before 400
        data = MergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        others = _others(data.validated_data["others"])
        merged = merge_service(survivor=survivor, others=others, by=request.auth)
        merged = inquiry_list().get(pk=merged.pk)
        return Response(InquiryOutput(merged).data)


class DuplicatesView(APIView):
    """Pairs of inquiries that are likely the same person, newest first, for a qualifier."""

    permission_classes = [role_required(*MARKETING)]

    @extend_schema(
        parameters=[DuplicatesQuery],
        responses={
            200: inline_serializer(
                "DuplicatePairs",
                {
                    "results": serializers.ListField(child=serializers.DictField()),
                    "next_after": serializers.CharField(allow_null=True),
                },
            )
        },
    )
    def get(self, request):
        query = DuplicatesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            after = parse_cursor(query.validated_data.get("after"))
        except ValueError:
            # A keyset position names a page: one this list never made is no page.
            raise exceptions.NotFound(
                "No such page: use the next_after of the previous page."
            ) from None
        page = possible_duplicates(limit=query.validated_data["limit"], after=after)
        return Response(
            {"results": [pair_body(p) for p in page.pairs], "next_after": page.next_after}
        )
