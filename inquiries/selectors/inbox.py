"""Reads of the triage inbox: one filter definition, keyset pages and capped counts.

The page (``inquiries/views/inbox.py``), the API list, the bulk actions on
"all matching" and the CSV export all read the inbox through
:class:`InboxFilter`, so a query string means the same rows everywhere.

Speed on a big tenant (a million inquiries) rests on three choices:

* keyset pagination: a page after the first continues from a cursor on
  ``(sort value, id)`` with a row comparison the index answers directly, so a
  deep page costs what the first one costs (OFFSET would read and drop every
  row before it);
* capped counts: counting stops at :data:`COUNT_CAP` + 1 rows (a ``LIMIT``
  ed subquery), shown as "10,000+"; an exact ``COUNT(*)`` over the tenant
  on every page load would read the whole tenant;
* full-text search on PostgreSQL uses the very expression of the GIN index of
  migration 0005, so the planner can use it; SQLite searches with
  ``icontains`` (slower, same results for whole and leading words).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import django_filters
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    Field,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import OrderBy
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Lower, NullIf
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from inquiries.models import (
    BehaviourLevel,
    BulkJob,
    CustomField,
    CustomFieldKind,
    DisqualifyReason,
    Inquiry,
    InquiryEmail,
    InquiryTask,
    SavedView,
    Source,
    Stage,
)
from leadflow.lib.query_fields import ID_MAX, IdFilter, WholeNumberFilter
from leadflow.tenancy.models import Membership, Role

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

# What ``as_sql`` gives: the SQL and its parameters.
SqlAndParams = tuple[str, tuple[str | int, ...] | list[str | int]]

COUNT_CAP = 10_000
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

SEARCH_COLUMNS = ("first_name", "last_name", "email", "company")


class TextSearchMatch(Func):
    """``to_tsvector(...) @@ to_tsquery(...)`` over the GIN index expression of migration 0005.

    Compiled word for word as the index was created (columns joined with
    ``|| ' ' ||``, config ``simple``) so the planner can match it; the columns
    are compiled with the query's own table alias, which keeps it right inside
    a subquery and next to joined tables that also have an ``email``.
    """

    output_field = BooleanField()

    def __init__(self, tsquery: str):
        super().__init__(*[F(column) for column in SEARCH_COLUMNS], Value(tsquery))

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> SqlAndParams:
        *columns, query = self.get_source_expressions()
        parts: list[str] = []
        params: list[str | int] = []
        for column in columns:
            sql, column_params = compiler.compile(column)
            parts.append(sql)
            params.extend(column_params)
        query_sql, query_params = compiler.compile(query)
        vector = " || ' ' || ".join(parts)
        return (
            f"to_tsvector('simple'::regconfig, {vector}) @@ "
            f"to_tsquery('simple'::regconfig, {query_sql})",
            (*params, *query_params),
        )


class AdditionalEmailMatch(Func):
    """``id = ANY(ARRAY(<ids of inquiries with a matching additional email>))``.

    The ids are read once (an InitPlan), so the condition is an index probe on
    the primary key that the planner ORs with the full-text index (a plain
    ``IN (subquery)`` beside the OR would make it read the whole tenant).
    """

    output_field = BooleanField()

    def __init__(self, matching: QuerySet[InquiryEmail]):
        super().__init__(F("id"), Subquery(matching.order_by().values("inquiry_id")))

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> SqlAndParams:
        column, subquery = (compiler.compile(e) for e in self.get_source_expressions())
        return f"{column[0]} = ANY(ARRAY{subquery[0]})", (*column[1], *subquery[1])


class EmailTextMatch(Func):
    """An additional email that starts with every word: ``to_tsvector(email) @@ to_tsquery``."""

    output_field = BooleanField()

    def __init__(self, tsquery: str):
        super().__init__(F("email"), Value(tsquery))

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> SqlAndParams:
        email, query = (compiler.compile(e) for e in self.get_source_expressions())
        return (
            f"to_tsvector('simple'::regconfig, {email[0]}) @@ "
            f"to_tsquery('simple'::regconfig, {query[0]})",
            (*email[1], *query[1]),
        )


class RowLessThan(Func):
    """``(a, b) < (x, y)``: a row comparison a btree index on (a, b) answers as one bound."""

    output_field = BooleanField()

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> SqlAndParams:
        left_a, left_b, right_a, right_b = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        return (
            f"({left_a[0]}, {left_b[0]}) < ({right_a[0]}, {right_b[0]})",
            (*left_a[1], *left_b[1], *right_a[1], *right_b[1]),
        )


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WORD_RE = re.compile(r"[\w@.+-]+")


@dataclass(frozen=True)
class Sort:
    """One order of the inbox: a column, newest/highest first, ties broken by id."""

    key: str
    label: str
    field: str
    nullable: bool = False

    def order_by(self, *, unindexed: bool = False) -> list[OrderBy]:
        """The order; ``unindexed`` hides the column from the planner (``score + 0``).

        A selective search is answered fastest from the full-text index and
        sorted afterwards; left free, the planner walks the sort's btree index
        instead, hoping to meet enough matches early, and reads the whole
        tenant when there are only a few.
        """
        column: Any = F(self.field)
        if unindexed:
            zero = Value(dt.timedelta(0)) if self.field != "score" else Value(0)
            column = ExpressionWrapper(column + zero, output_field=self.output_field())
        # NULLS FIRST is PostgreSQL's default for DESC, so the index is used as is.
        return [
            column.desc(nulls_first=True) if self.nullable else column.desc(),
            F("id").desc(),
        ]

    def output_field(self) -> Field[Any, Any]:
        column = Inquiry._meta.get_field(self.field)
        # The sorts are on the inquiry's own columns, never a relation's reverse side.
        assert isinstance(column, Field)
        return column.clone()  # type: ignore[attr-defined]  # Field.clone is missing from the stubs


SORTS = {
    sort.key: sort
    for sort in (
        Sort("recent", "Newest first", "created_at"),
        Sort("score", "Highest score", "score"),
        Sort("activity", "Latest activity", "last_activity_at", nullable=True),
    )
}
DEFAULT_SORT = "recent"


def _day_start(day: dt.date) -> dt.datetime | None:
    """Midnight starting ``day`` in the current (tenant's) time zone; None off the calendar.

    The first and last days of the calendar have no midnight that is also a
    UTC time in some zones (year 0, year 10000): a bound there means no bound.
    """
    if not dt.date.min < day < dt.date.max:
        return None
    start = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())
    try:
        start.astimezone(dt.UTC)
    except OverflowError:
        return None
    return start


def _on_or_after(queryset: QuerySet[Inquiry], field: str, day: dt.date) -> QuerySet[Inquiry]:
    start = _day_start(day)
    if start is None:
        return queryset if day < dt.date(2000, 1, 1) else queryset.none()
    return queryset.filter(**{f"{field}__gte": start})


def _on_or_before(queryset: QuerySet[Inquiry], field: str, day: dt.date) -> QuerySet[Inquiry]:
    end = _day_start(day + dt.timedelta(days=1)) if day < dt.date.max else None
    if end is None:
        return queryset.none() if day < dt.date(2000, 1, 1) else queryset
    return queryset.filter(**{f"{field}__lt": end})


def search_terms(text: str) -> list[str]:
    return WORD_RE.findall(text)[:8]


def prefix_tsquery(text: str) -> str:
    """Every word as a quoted prefix, all required: ``'dana':* & 'freight':*``."""
    return " & ".join(f"'{word}':*" for word in search_terms(text))


def search(queryset: QuerySet[Inquiry], text: str) -> QuerySet[Inquiry]:
    """Inquiries whose name, email or company start with every word of ``text``.

    A whole email address matches that address exactly (the unique index),
    as the primary email or an additional one; words also find the person by
    an additional email that starts with every word.
    """
    text = text.strip()
    if not text:
        return queryset
    if EMAIL_RE.match(text):
        email = text.lower()
        additional = InquiryEmail.objects.filter(email=email).order_by().values("inquiry_id")[:1]
        return queryset.filter(Q(email=email) | Q(pk=Subquery(additional)))
    words = search_terms(text)
    if not words:
        return queryset.none()
    if connections[queryset.db].vendor == "postgresql":
        tsquery = prefix_tsquery(text)
        others = InquiryEmail.objects.filter(EmailTextMatch(tsquery))
        return queryset.filter(Q(TextSearchMatch(tsquery)) | Q(AdditionalEmailMatch(others)))
    # SQLite: no full-text index; the same fields, slower.
    others = InquiryEmail.objects.all()
    for word in words:
        others = others.filter(email__icontains=word)
    matched = Q()
    for word in words:
        matched &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(company__icontains=word)
        )
    return queryset.filter(matched | Q(pk__in=others.values("inquiry_id")))


# The bounds of the columns the filters compare with: a value past them is a field
# error, not a query PostgreSQL refuses ("integer out of range") or Django drops.
SCORE_MIN, SCORE_MAX = -(2**31), 2**31 - 1
SCORE_SCHEMA = {"type": "integer", "minimum": SCORE_MIN, "maximum": SCORE_MAX}


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= ID_MAX


class ScoreFilter(WholeNumberFilter):
    """A whole-number score within the score column's range."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", SCORE_MIN)
        kwargs.setdefault("max_value", SCORE_MAX)
        super().__init__(*args, **kwargs)


# Company size bands of the inbox filter: key, label, lowest and highest head count.
SIZE_BANDS: tuple[tuple[str, str, int, int | None], ...] = (
    ("1-49", "1–49 employees", 0, 49),
    ("50-249", "50–249 employees", 50, 249),
    ("250-999", "250–999 employees", 250, 999),
    ("1000-4999", "1,000–4,999 employees", 1000, 4999),
    ("5000+", "5,000 or more employees", 5000, None),
)

_untouched: list[Callable[[], Q]] = []


def register_untouched(condition: Callable[[], Q]) -> None:
    """The app that owns touches tells the inbox how to find inquiries with none (once)."""
    _untouched[:] = [condition]


def untouched_condition() -> Q | None:
    """The registered "no touch yet" condition, or None when no app registered one."""
    return _untouched[0]() if _untouched else None


class InboxFilter(django_filters.FilterSet):
    """The inbox's filters; also the ``filter`` of a bulk action and of the CSV export.

    Custom fields filter as ``cf_<key>=<value>`` (exact match, typed by the
    field's kind); their definitions are read only when such a parameter is
    given.
    """

    q = django_filters.CharFilter(method="filter_q", label="Search")
    # distinct=False: no join can repeat a row, and DISTINCT would sort the whole match.
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices, distinct=False)
    level = django_filters.MultipleChoiceFilter(
        field_name="behaviour_level", choices=BehaviourLevel.choices, label="Level", distinct=False
    )
    source = django_filters.MultipleChoiceFilter(choices=Source.choices, distinct=False)
    campaign = IdFilter(field_name="campaign_id", label="Campaign")
    assigned = extend_schema_field({"type": "string", "pattern": "^(me|none|[1-9][0-9]{0,17})$"})(
        django_filters.CharFilter(
            method="filter_assigned", label="Assigned to", help_text='"me", "none" or a user id'
        )
    )
    score_min = extend_schema_field(SCORE_SCHEMA)(
        ScoreFilter(field_name="score", lookup_expr="gte")
    )
    score_max = extend_schema_field(SCORE_SCHEMA)(
        ScoreFilter(field_name="score", lookup_expr="lte")
    )
    created_from = django_filters.DateFilter(method="filter_created_from")
    created_to = django_filters.DateFilter(method="filter_created_to")
    activity_from = django_filters.DateFilter(method="filter_activity_from")
    activity_to = django_filters.DateFilter(method="filter_activity_to")
    # The qualifier's desk (issue 23): who they are, where they came from, how far worked.
    title = django_filters.CharFilter(
        method="filter_title", max_length=200, label="Title", help_text="Contains, any case."
    )
    industry = django_filters.CharFilter(
        field_name="industry", lookup_expr="iexact", max_length=100, label="Industry"
    )
    country = django_filters.CharFilter(
        method="filter_country", max_length=2, label="Country", help_text="ISO code: DE, US."
    )
    size = django_filters.ChoiceFilter(
        choices=[(key, label) for key, label, _low, _high in SIZE_BANDS],
        method="filter_size",
        label="Company size",
    )
    partner = IdFilter(field_name="partner_id", label="Partner")
    touched = django_filters.ChoiceFilter(
        choices=[("none", "No touch yet")], method="filter_touched", label="Touches"
    )
    task = django_filters.ChoiceFilter(
        choices=[("due", "A task due today or late"), ("open", "An open task")],
        method="filter_task",
        label="Tasks",
    )

    class Meta:
        model = Inquiry
        fields: list[str] = []

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *args: Any,
        user_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(None if data is None else without_blanks(data), *args, **kwargs)
        self.user_id = user_id
        self._custom: dict[str, Any] | None = None

    def filter_q(self, queryset: QuerySet[Inquiry], name: str, value: str) -> QuerySet[Inquiry]:
        return search(queryset, value)

    def filter_assigned(
        self, queryset: QuerySet[Inquiry], name: str, value: str
    ) -> QuerySet[Inquiry]:
        value = value.strip().lower()
        if value == "none":
            return queryset.filter(assigned_to__isnull=True)
        if value == "me":
            return queryset.filter(assigned_to_id=self.user_id)
        if _is_id(value):
            return queryset.filter(assigned_to_id=int(value))
        return queryset

    def filter_created_from(
        self, queryset: QuerySet[Inquiry], name: str, value: dt.date
    ) -> QuerySet[Inquiry]:
        return _on_or_after(queryset, "created_at", value)

    def filter_created_to(
        self, queryset: QuerySet[Inquiry], name: str, value: dt.date
    ) -> QuerySet[Inquiry]:
        return _on_or_before(queryset, "created_at", value)

    def filter_activity_from(
        self, queryset: QuerySet[Inquiry], name: str, value: dt.date
    ) -> QuerySet[Inquiry]:
        return _on_or_after(queryset, "last_activity_at", value)

    def filter_activity_to(
        self, queryset: QuerySet[Inquiry], name: str, value: dt.date
    ) -> QuerySet[Inquiry]:
        return _on_or_before(queryset, "last_activity_at", value)

    def filter_title(self, queryset: QuerySet[Inquiry], name: str, value: str) -> QuerySet[Inquiry]:
        value = value.strip()
        return queryset.filter(title__icontains=value) if value else queryset

    def filter_country(
        self, queryset: QuerySet[Inquiry], name: str, value: str
    ) -> QuerySet[Inquiry]:
        return queryset.filter(country=value.strip().upper())

    def filter_size(self, queryset: QuerySet[Inquiry], name: str, value: str) -> QuerySet[Inquiry]:
        for key, _label, low, high in SIZE_BANDS:
            if key == value:
                queryset = queryset.filter(company_size__gte=low)
                return queryset.filter(company_size__lte=high) if high is not None else queryset
        return queryset

    def filter_touched(
        self, queryset: QuerySet[Inquiry], name: str, value: str
    ) -> QuerySet[Inquiry]:
        # Touches belong to ``leads``, which this app may not import: it registers the
        # condition (``untouched_condition``); without it every inquiry counts as untouched.
        condition = untouched_condition()
        return queryset.filter(condition) if condition is not None else queryset

    def filter_task(self, queryset: QuerySet[Inquiry], name: str, value: str) -> QuerySet[Inquiry]:
        tasks = InquiryTask.objects.filter(inquiry_id=OuterRef("pk"), completed_at__isnull=True)
        if value == "due":
            tz = timezone.get_current_timezone()
            tomorrow = timezone.localtime(timezone.now(), tz).date() + dt.timedelta(days=1)
            tasks = tasks.filter(due_at__lt=dt.datetime.combine(tomorrow, dt.time.min, tzinfo=tz))
        return queryset.filter(Exists(tasks))

    def is_valid(self) -> bool:
        valid = super().is_valid()
        assigned = (self.data.get("assigned") or "").strip().lower()
        if assigned and assigned not in ("me", "none") and not _is_id(assigned):
            self.form.add_error("assigned", 'Use "me", "none" or a user id.')
            valid = False
        self._custom = self._custom_filters()
        return valid and self.form.is_valid()

    def _custom_filters(self) -> dict[str, Any]:
        given = {
            key[3:]: value
            for key, value in self.data.items()
            if key.startswith("cf_") and value not in ("", None)
        }
        if not given:
            return {}
        fields = {f.key: f for f in CustomField.objects.filter(key__in=list(given))}
        lookups: dict[str, Any] = {}
        for key, raw in given.items():
            field = fields.get(key)
            if field is None:
                self.form.add_error(None, f"Unknown custom field {key!r}.")
                continue
            value = _custom_value(field, raw if isinstance(raw, str) else str(raw))
            if value is None:
                self.form.add_error(None, f"{field.label}: {raw!r} is not a valid value.")
                continue
            lookups[key] = value
        return lookups

    def filter_queryset(self, queryset: QuerySet[Inquiry]) -> QuerySet[Inquiry]:
        queryset = super().filter_queryset(queryset)
        if self._custom is None:
            self._custom = self._custom_filters()
        for n, (key, value) in enumerate(self._custom.items()):
            # A key transform, not ``custom__<key>``: a key may itself contain "__".
            queryset = queryset.alias(**{f"_cf{n}": KeyTransform(key, "custom")}).filter(
                **{f"_cf{n}": value}
            )
        return queryset

    @property
    def errors_as_dict(self) -> dict[str, list[str]]:
        return {
            ("non_field_errors" if key == "__all__" else key): [str(m) for m in messages]
            for key, messages in self.form.errors.items()
        }


def without_blanks(data: Mapping[str, Any]) -> QueryDict:
    """``data`` without empty values: a form's untouched ``<select>`` means "any"."""
    clean = QueryDict(mutable=True)
    for key in data:
        values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
        values = [v for v in values if v not in ("", None)]
        if values:
            clean.setlist(key, values)
    return clean


def _custom_value(field: CustomField, raw: str) -> Any:
    raw = raw.strip()
    if field.kind == CustomFieldKind.NUMBER:
        try:
            number = float(raw)
        except ValueError:
            return None
        if not math.isfinite(number):  # JSON has no NaN or infinity to compare with
            return None
        return int(number) if number.is_integer() else number
    if field.kind == CustomFieldKind.BOOLEAN:
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
            raw.lower()
        )
    if field.kind == CustomFieldKind.CHOICE and field.choices and raw not in field.choices:
        return None
    return raw


def inbox_base() -> QuerySet[Inquiry]:
    """The tenant's inquiries with what an inbox row shows (campaign, assignee)."""
    return Inquiry.objects.select_related("campaign", "assigned_to")


def filter_inbox(data: Mapping[str, Any], *, user_id: int | None) -> InboxFilter:
    """The bound filter for ``data`` (a query dict); check ``is_valid()`` before ``.qs``."""
    return InboxFilter(data, queryset=inbox_base(), user_id=user_id)


# --- Keyset pages --------------------------------------------------------------------


class BadCursor(ValueError):
    """The cursor was not made by this inbox (or for another sort)."""


def encode_cursor(sort: Sort, inquiry: Inquiry) -> str:
    value = getattr(inquiry, sort.field)
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([sort.key, value, inquiry.pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if key != sort.key or not isinstance(pk, int):
            raise BadCursor("The cursor belongs to another sort.")
        if sort.field != "score" and value is not None:
            value = dt.datetime.fromisoformat(value)
            # Compared in UTC: a zone-less or off-calendar time was not made here.
            if timezone.is_naive(value):
                raise BadCursor("Malformed cursor.")
            value = value.astimezone(dt.UTC)
        elif sort.field == "score" and (
            not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX
        ):
            raise BadCursor("Malformed cursor.")
        if value is None and not sort.nullable:
            raise BadCursor("Malformed cursor.")
        if isinstance(pk, bool) or not 1 <= pk <= ID_MAX:
            raise BadCursor("Malformed cursor.")
    except (ValueError, TypeError, OverflowError, binascii.Error, json.JSONDecodeError) as exc:
        raise BadCursor("Malformed cursor.") from exc
    return value, pk


def _after(sort: Sort, value: Any, pk: int) -> Q:
    """Rows after (value, pk) in the sort's order, as a row comparison the index answers."""
    if value is None:  # still among the NULLs, which come first
        return Q(**{f"{sort.field}__isnull": True, "id__lt": pk}) | Q(
            **{f"{sort.field}__isnull": False}
        )
    condition = Q(RowLessThan(F(sort.field), F("id"), Value(value), Value(pk)))
    return condition & Q(**{f"{sort.field}__isnull": False}) if sort.nullable else condition


@dataclass
class KeysetPage:
    rows: list[Inquiry]
    next_cursor: str | None


def keyset_queryset(
    queryset: QuerySet[Inquiry],
    *,
    sort: Sort,
    cursor: str | None,
    size: int,
    rows_from: QuerySet[Inquiry] | None = None,
    offset: int = 0,
    unindexed: bool = False,
) -> QuerySet[Inquiry]:
    """The statement of one page: ``size`` ids picked on the index alone, then their rows.

    Picking the ids in a subquery without joins keeps the plan an ordered index
    scan that stops after ``size`` rows, however the planner misjudges the
    filters; the joins of ``rows_from`` (``select_related``) then touch only
    those rows. ``offset`` exists for the benchmark's contrast and old
    page-number clients; ``unindexed`` see :meth:`Sort.order_by`.
    """
    unindexed = unindexed and connections[queryset.db].vendor == "postgresql"
    if cursor:
        value, pk = decode_cursor(sort, cursor)
        queryset = queryset.filter(_after(sort, value, pk))
    window = queryset.order_by(*sort.order_by(unindexed=unindexed)).values("pk")
    window = window[offset : offset + size + 1]
    rows = rows_from if rows_from is not None else queryset
    return rows.filter(pk__in=window).order_by(*sort.order_by())


def keyset_page(
    queryset: QuerySet[Inquiry],
    *,
    sort: Sort,
    cursor: str | None,
    size: int,
    rows_from: QuerySet[Inquiry] | None = None,
    unindexed: bool = False,
) -> KeysetPage:
    """``size`` rows in ``sort`` order after ``cursor``; one query, as fast deep as first."""
    rows = list(
        keyset_queryset(
            queryset,
            sort=sort,
            cursor=cursor,
            size=size,
            rows_from=rows_from,
            unindexed=unindexed,
        )
    )
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows=rows, next_cursor=encode_cursor(sort, rows[-1]) if more else None)


# --- Capped counts ---------------------------------------------------------------


@dataclass(frozen=True)
class CappedCount:
    value: int
    capped: bool

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


def _limited_sql(queryset: QuerySet[Inquiry]) -> SqlAndParams:
    """The capped count of ``queryset`` as a subquery; ``SELECT 0`` when it can match nothing.

    Django refuses to compile a query it knows is empty (``.none()``, a search
    of symbols only, an integer bound past the column's range) and raises
    ``EmptyResultSet``, which evaluating the queryset would have turned into
    no rows: here it is the same zero.
    """
    limited = queryset.order_by().values("pk")[: COUNT_CAP + 1]
    try:
        sql, params = limited.query.get_compiler(using=limited.db).as_sql()
    except EmptyResultSet:
        return "SELECT 0", ()
    return f"SELECT count(*) FROM ({sql}) AS capped", params


def capped_counts(named: dict[str, QuerySet[Inquiry]]) -> dict[str, CappedCount]:
    """Each queryset's row count up to :data:`COUNT_CAP` (then "10,000+"), in one query."""
    parts: list[str] = []
    params: list[str | int] = []
    for queryset in named.values():
        sql, part_params = _limited_sql(queryset)
        parts.append(f"({sql})")
        params.extend(part_params)
    db = next(iter(named.values())).db
    with connections[db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        values = cursor.fetchone()
    return {
        name: CappedCount(min(value, COUNT_CAP), value > COUNT_CAP)
        for name, value in zip(named, values, strict=True)
    }


def stage_facets(
    data: QueryDict, *, user_id: int | None, filtered: QuerySet[Inquiry]
) -> dict[str, CappedCount]:
    """The filtered total and, per stage, how many match the other filters (capped)."""
    others = data.copy()
    others.pop("stage", None)
    unstaged = filter_inbox(others, user_id=user_id)
    unstaged.is_valid()
    base = unstaged.qs
    named: dict[str, QuerySet[Inquiry]] = {"total": filtered}
    named.update({value: base.filter(stage=value) for value in Stage.values})
    return capped_counts(named)


def search_is_selective(data: Mapping[str, Any], count: CappedCount) -> bool:
    """A word search with at most :data:`COUNT_CAP` matches: read it from the full-text index."""
    text = (data.get("q") or "").strip()
    return bool(text) and not EMAIL_RE.match(text) and not count.capped


def selected_inquiries(*, ids: list[int]) -> QuerySet[Inquiry]:
    """The tenant's inquiries among ``ids`` (another tenant's ids match nothing)."""
    return Inquiry.objects.filter(pk__in=ids)


MAX_SELECTED_IDS = 1000


@dataclass(frozen=True)
class Selection:
    """What a bulk action or an export applies to: chosen ids, or all that match a filter."""

    ids: tuple[int, ...] = ()
    query: str | None = None  # the inbox query string, for "all matching"

    @property
    def is_all_matching(self) -> bool:
        return self.query is not None

    def describe(self) -> dict[str, Any]:
        """For the audit record: the ids (first 200) or the filter."""
        if self.is_all_matching:
            return {"filter": self.query}
        return {"ids": list(self.ids[:200])}


def selection_queryset(selection: Selection, *, user_id: int | None) -> QuerySet[Inquiry]:
    """The tenant's inquiries a selection means; a bad filter raises ``InvalidFilter``."""
    if not selection.is_all_matching:
        return Inquiry.objects.filter(pk__in=selection.ids)
    bound = InboxFilter(
        QueryDict(selection.query or ""), queryset=Inquiry.objects.all(), user_id=user_id
    )
    if not bound.is_valid():
        raise InvalidFilter(bound.errors_as_dict)
    return bound.qs


class InvalidFilter(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def missing_ids(ids: list[int] | tuple[int, ...]) -> set[int]:
    """The ids that are not inquiries of the current tenant (another tenant's included)."""
    wanted = set(ids)
    return wanted - set(Inquiry.objects.filter(pk__in=wanted).values_list("pk", flat=True))


def bulk_jobs() -> QuerySet[BulkJob]:
    """The tenant's bulk jobs, newest first, with who queued them."""
    return BulkJob.objects.select_related("created_by").order_by("-created_at", "-id")


def saved_views(*, user_id: int) -> QuerySet[SavedView]:
    """The user's saved inbox views, by name."""
    return SavedView.objects.filter(user_id=user_id).order_by("name")


def visible_views(*, user_id: int) -> QuerySet[SavedView]:
    """The user's own saved views and those the team shares, by name, with their owners."""
    return (
        SavedView.objects.select_related("user")
        .filter(Q(user_id=user_id) | Q(shared=True))
        .order_by("name", "id")
    )


def disqualify_reasons(*, active_only: bool = False) -> QuerySet[DisqualifyReason]:
    """The tenant's disqualification reasons, by label."""
    reasons = DisqualifyReason.objects.order_by("label", "id")
    return reasons.filter(active=True) if active_only else reasons


def assignable_members() -> QuerySet[Membership]:
    """Members who may work the inbox (qualifiers and the other marketing roles), by name.

    Sorted as they are shown: by name, or by email for someone without one.
    """
    shown_as = Lower(Coalesce(NullIf("user__full_name", Value("")), "user__email"))
    return (
        Membership.objects.filter(
            role__in=(Role.QUALIFIER, Role.MARKETER, Role.MANAGER, Role.ADMIN),
            partner__isnull=True,
            is_active=True,
            user__is_active=True,
        )
        .select_related("user")
        .order_by(shown_as, "user__email")
    )
