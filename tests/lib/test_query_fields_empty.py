"""``query_fields``: an empty query value means "not given"."""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import serializers

from leadflow.lib.query_fields import EmptyMeansNotGiven, without_empty


class Query(EmptyMeansNotGiven, serializers.Serializer):
    day = serializers.DateField(required=False)
    n = serializers.IntegerField(required=False, default=3)


def test_without_empty_drops_the_empty_values_only():
    assert without_empty(QueryDict("a=&b=1&c=0")) == {"b": "1", "c": "0"}


def test_an_empty_value_is_as_if_not_given():
    query = Query(data=QueryDict("day=&n="))
    assert query.is_valid(), query.errors
    assert query.validated_data == {"n": 3}


def test_a_bad_value_is_still_an_error():
    query = Query(data=QueryDict("day=tomorrow"))
    assert not query.is_valid()
    assert "day" in query.errors
