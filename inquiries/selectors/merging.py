"""Possible duplicates: pairs of inquiries that are likely the same person, for a qualifier.

A pair is listed when one of these holds (text compared trimmed and lower-cased):

- **same name and company**: the same first and last name (both given) and the
  same company name, or the same company domain;
- **same email name**: the same local part (before the ``@``) at different
  domains, when it is personal — at least 3 characters, not a role address
  such as ``info`` or ``sales`` — and the last names do not contradict each
  other (one is missing, or they are equal);
- **similar email at the same company**: the same email domain, and it is a
  company's (free-mail domains never count: there, close addresses are
  different people), and the local parts (before the ``@``) are a near match
  — a shared domain alone is no evidence, since every colleague shares it:

  * within an edit distance (Levenshtein) of 2, both of 5 to 32 characters
    (``jsmith`` / ``j.smyth``; in a shorter one two edits change half of it), or
  * the same but for a first name written out or as its initial
    (``j.smith`` / ``john.smith`` / ``jsmith``: one side has an initial, and
    the first letter plus the rest, separators ``. _ -`` dropped, are equal);

  and nothing says they are different people: they do not differ only in
  digits (``ref1`` / ``ref2``, ``user01`` / ``user02`` are numbered accounts),
  neither is a role address, the last names do not differ (when both are
  given), the first names do not start with different letters, and the
  company names do not differ (when both are given, one must begin with the
  other: ``Acme`` / ``Acme Inc``).

Pairs in which both inquiries are leads are left out: sales has both, and a
merge would refuse them. Disqualified inquiries are kept: a duplicate of a
disqualified person is exactly what a qualifier needs to see. The newest
pairs come first (by the newer inquiry's id, then the older one's), paginated
by keyset.

On PostgreSQL the pairs are found in one statement, by self-joins on the
normalised keys; the edit distance is exact without any extension: two local
parts are within distance 2 exactly when deleting at most two characters
from each leaves the same text and the deletions cost at most 2 — deletions
in the same gap of the common text pair up as substitutions (see
``_SIMILAR_SQL``). On SQLite the same rules run in Python over the tenant's
inquiries, which is slower but gives the same pairs.

The pairs are computed on every request (nothing is stored), among the
``WINDOW`` newest inquiries of the tenant (by id), so that the page answers in
about a second even for a tenant of a million; an older pair is found once
one of the two responds again only if capture's exact match misses it. The
cost grows with the inquiries in the window, and for the edit distance with the inquiries
that share a company domain times the square of their local part's length:
about 1.5 s for 17,000 inquiries of which 14,000 share a domain, measured on
the development machine. A much larger tenant needs the candidate keys kept
in a table at capture time instead.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from django.db import connection

from inquiries.models import Inquiry, Stage
from inquiries.selectors.inquiries import inquiry_list
from leadflow.tenancy.context import require_tenant_id

# How many of the newest inquiries are compared with each other.
WINDOW = 20_000
SAME_NAME_COMPANY = "same_name_company"
SAME_NAME_DOMAIN = "same_name_domain"
SAME_EMAIL_NAME = "same_email_name"
SIMILAR_EMAIL = "similar_email"
REASON_TEXT = {
    SAME_NAME_COMPANY: "same name and company",
    SAME_NAME_DOMAIN: "same name and company domain",
    SAME_EMAIL_NAME: "same email name at another domain",
    SIMILAR_EMAIL: "similar email at the same company",
}
ROLE_LOCAL_PARTS = (
    "admin",
    "contact",
    "hello",
    "help",
    "hr",
    "info",
    "mail",
    "marketing",
    "noreply",
    "no-reply",
    "office",
    "sales",
    "support",
    "team",
)
MIN_LOCAL_LENGTH = 3
MIN_SIMILAR_LOCAL_LENGTH = 5
MAX_SIMILAR_LOCAL_LENGTH = 32
MAX_DISTANCE = 2
MIN_INITIAL_KEY_LENGTH = 3
DIGITS = "0123456789"
# A local part's first name (or initial) and the rest: "john.smith", "j_smith".
SEPARATED = re.compile(r"^([^._-]+)[._-](.*)$")


@dataclass(frozen=True)
class DuplicatePair:
    """Two inquiries that are likely the same person, and why."""

    first: Inquiry  # the older (lower id)
    second: Inquiry
    reasons: tuple[str, ...]

    @property
    def reason_texts(self) -> list[str]:
        return [REASON_TEXT[r] for r in self.reasons]

    @property
    def cursor(self) -> str:
        return f"{self.second.pk}-{self.first.pk}"


@dataclass(frozen=True)
class DuplicatePage:
    pairs: list[DuplicatePair]
    next_after: str | None


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    """The keyset position ``"<newer id>-<older id>"``; raises ValueError when malformed."""
    if not text:
        return None
    newer, _, older = text.partition("-")
    if not (newer.isascii() and older.isascii()):
        raise ValueError("not a position")
    position = (int(newer), int(older))
    if min(position) < 1 or max(position) > 2**63 - 1:
        raise ValueError("not a position")
    return position


def possible_duplicates(
    *, limit: int = 50, after: tuple[int, int] | None = None, window: int = WINDOW
) -> DuplicatePage:
    """The tenant's likely duplicate pairs, newest first, ``limit`` per page, after ``after``.

    Two queries whatever the number of pairs: the pairs, then their inquiries
    (with what a row shows).
    """
    if connection.vendor == "postgresql":
        rows = _pairs_in_sql(limit + 1, after, window)
    else:
        rows = _pairs_in_python(limit + 1, after, window)
    more = len(rows) > limit
    rows = rows[:limit]
    ids = {pk for newer, older, _ in rows for pk in (newer, older)}
    people = inquiry_list().in_bulk(ids) if ids else {}
    pairs = [
        DuplicatePair(people[older], people[newer], reasons)
        for newer, older, reasons in rows
        if older in people and newer in people
    ]
    next_after = f"{rows[-1][0]}-{rows[-1][1]}" if more and rows else None
    return DuplicatePage(pairs=pairs, next_after=next_after)


def duplicate_pair_count(*, cap: int) -> int:
    """How many pairs ``possible_duplicates`` lists, counted up to ``cap + 1`` (one query).

    For the start page: the pairs only, without loading the people.
    """
    if connection.vendor == "postgresql":
        return len(_pairs_in_sql(cap + 1, None))
    return len(_pairs_in_python(cap + 1, None))


# --- PostgreSQL: one statement -------------------------------------------------------

_PEOPLE_SQL = """
people AS (
    SELECT id, stage = %(lead)s AS lead,
           lower(btrim(first_name)) AS first, lower(btrim(last_name)) AS last,
           lower(btrim(company)) AS company, lower(company_domain) AS domain,
           lower(split_part(email, '@', 1)) AS local,
           lower(split_part(email, '@', 2)) AS email_domain
    FROM inquiries_inquiry
    WHERE tenant_id = %(tenant)s AND id >= (
        SELECT COALESCE(min(id), 0) FROM (
            SELECT id FROM inquiries_inquiry WHERE tenant_id = %(tenant)s
            ORDER BY id DESC LIMIT %(window)s
        ) AS newest
    )
)"""

# Deleting up to two characters from each local part; ``gaps`` says where each
# deleted character sat in the remaining text (how many kept characters came
# before it). For two variants with the same text, the edit distance of that
# alignment is |gaps a| + |gaps b| − |gaps a ∩ gaps b| (a deletion on each side
# in the same gap is one substitution), so it is at most 2 exactly when: at
# most 2 deletions in all; or 3 with a shared gap; or 2 and 2 in the same gaps.
_SIMILAR_SQL = """
company_locals AS (
    SELECT id, email_domain, local, lead FROM (
        SELECT id, email_domain, local, lead,
               count(*) OVER (PARTITION BY email_domain) AS at_domain
        FROM people WHERE domain <> '' AND local <> '' AND local <> ALL(%(roles)s)
    ) counted
    WHERE at_domain > 1
),
locals AS (
    SELECT id, email_domain, local, lead FROM company_locals
    WHERE length(local) BETWEEN %(min_similar)s AND %(max_local)s
),
variants AS (
    SELECT id, email_domain, lead, local AS text, '{}'::int[] AS gaps FROM locals
    UNION ALL
    SELECT id, email_domain, lead, left(local, i - 1) || substr(local, i + 1), ARRAY[i - 1]
    FROM locals JOIN generate_series(1, %(max_local)s) AS i ON i <= length(local)
    UNION ALL
    SELECT id, email_domain, lead,
           left(local, i - 1) || substr(local, i + 1, j - i - 1) || substr(local, j + 1),
           ARRAY[i - 1, j - 2]
    FROM locals
    JOIN generate_series(1, %(max_local)s) AS i ON i <= length(local)
    JOIN generate_series(2, %(max_local)s) AS j ON j > i AND j <= length(local)
),
close_emails AS (
    SELECT va.id AS a, vb.id AS b, va.lead AND vb.lead AS leads
    FROM variants va
    JOIN variants vb
      ON vb.email_domain = va.email_domain AND vb.text = va.text AND va.id < vb.id
    WHERE cardinality(va.gaps) + cardinality(vb.gaps) <= 2
       OR (cardinality(va.gaps) + cardinality(vb.gaps) = 3 AND va.gaps && vb.gaps)
       OR (cardinality(va.gaps) = 2 AND cardinality(vb.gaps) = 2 AND va.gaps = vb.gaps)
),
keyed AS (
    SELECT id, email_domain, lead, ikey, initial FROM (
        SELECT id, email_domain, lead,
               CASE WHEN substring(local from '^[^._-]+[._-]') IS NULL THEN local
                    ELSE left(local, 1) || regexp_replace(
                        substring(local from '^[^._-]+[._-](.*)$'), '[._-]', '', 'g')
               END AS ikey,
               coalesce(length(substring(local from '^([^._-]+)[._-]')) = 1, true) AS initial
        FROM company_locals
    ) k
    WHERE length(ikey) >= %(min_key)s
),
initials AS (
    SELECT ka.id AS a, kb.id AS b, ka.lead AND kb.lead AS leads
    FROM keyed ka
    JOIN keyed kb ON kb.email_domain = ka.email_domain AND kb.ikey = ka.ikey AND ka.id < kb.id
    WHERE ka.initial OR kb.initial
),
near_emails AS (
    SELECT c.a, c.b, c.leads
    FROM (SELECT a, b, leads FROM close_emails UNION SELECT a, b, leads FROM initials) c
    JOIN people pa ON pa.id = c.a
    JOIN people pb ON pb.id = c.b
    WHERE translate(pa.local, %(digits)s, '') <> translate(pb.local, %(digits)s, '')
      AND NOT (pa.last <> '' AND pb.last <> '' AND pa.last <> pb.last)
      AND NOT (pa.first <> '' AND pb.first <> '' AND left(pa.first, 1) <> left(pb.first, 1))
      AND (pa.company = '' OR pb.company = ''
           OR starts_with(pa.company, pb.company) OR starts_with(pb.company, pa.company))
)"""

# Each rule adds its pairs with its own flag set; a pair's reasons are the
# union of the flags of every rule that found it.
_PAIRS_SQL = f"""
WITH {_PEOPLE_SQL},
{_SIMILAR_SQL},
found AS (
    SELECT a.id AS a, b.id AS b, a.lead AND b.lead AS leads,
           a.company <> '' AND b.company = a.company AS name_company,
           a.domain <> '' AND b.domain = a.domain AS name_domain,
           false AS email_name, false AS close_email
    FROM people a
    JOIN people b ON b.first = a.first AND b.last = a.last AND a.id < b.id
    WHERE a.first <> '' AND a.last <> ''
      AND ((a.company <> '' AND b.company = a.company) OR (a.domain <> '' AND b.domain = a.domain))
    UNION ALL
    SELECT a.id, b.id, a.lead AND b.lead, false, false, true, false
    FROM people a
    JOIN people b ON b.local = a.local AND a.id < b.id
    WHERE length(a.local) >= %(min_local)s AND a.local <> ALL(%(roles)s)
      AND b.email_domain <> a.email_domain
      AND (a.last = '' OR b.last = '' OR a.last = b.last)
    UNION ALL
    SELECT a, b, leads, false, false, false, true FROM near_emails
)
SELECT b, a, bool_or(name_company), bool_or(name_domain), bool_or(email_name),
       bool_or(close_email)
FROM found
WHERE NOT leads
  AND (%(after_newer)s::bigint IS NULL OR (b, a) < (%(after_newer)s, %(after_older)s))
GROUP BY b, a
ORDER BY b DESC, a DESC
LIMIT %(limit)s
"""

# A likely duplicate: the newer inquiry's id, the older one's, and why they look alike.
Pair = tuple[int, int, tuple[str, ...]]

_FLAGS = (SAME_NAME_COMPANY, SAME_NAME_DOMAIN, SAME_EMAIL_NAME, SIMILAR_EMAIL)


def _pairs_in_sql(limit: int, after: tuple[int, int] | None, window: int = WINDOW) -> list[Pair]:
    params: dict[str, int | str | list[str] | None] = {
        "window": window,
        "tenant": require_tenant_id(),
        "max_local": MAX_SIMILAR_LOCAL_LENGTH,
        "min_similar": MIN_SIMILAR_LOCAL_LENGTH,
        "min_key": MIN_INITIAL_KEY_LENGTH,
        "digits": DIGITS,
        "min_local": MIN_LOCAL_LENGTH,
        "roles": list(ROLE_LOCAL_PARTS),
        "lead": Stage.LEAD.value,
        "after_newer": after[0] if after else None,
        "after_older": after[1] if after else None,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PAIRS_SQL, params)
        rows = cursor.fetchall()
    return [
        (newer, older, tuple(flag for flag, hit in zip(_FLAGS, hits, strict=True) if hit))
        for newer, older, *hits in rows
    ]


# --- SQLite: the same rules in Python --------------------------------------------------


@dataclass(frozen=True)
class _Person:
    id: int
    stage: str
    first: str
    last: str
    company: str
    domain: str
    local: str
    email_domain: str


def _people(window: int) -> list[_Person]:
    rows = Inquiry.objects.order_by("-id").values_list(
        "id", "stage", "first_name", "last_name", "company", "company_domain", "email"
    )[:window]
    people = []
    for pk, stage, first, last, company, domain, email in rows:
        local, _, email_domain = email.lower().partition("@")
        people.append(
            _Person(
                pk,
                stage,
                first.strip(" ").lower(),
                last.strip(" ").lower(),
                company.strip(" ").lower(),
                domain.lower(),
                local,
                email_domain,
            )
        )
    return people


_NO_DIGITS = str.maketrans("", "", DIGITS)


def within_distance(a: str, b: str, limit: int = MAX_DISTANCE) -> bool:
    """Whether the Levenshtein distance of ``a`` and ``b`` is at most ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def _initial_key(local: str) -> tuple[str, bool]:
    """The local part with its first name cut to the initial, and whether it was one already."""
    separated = SEPARATED.match(local)
    if separated is None:
        return local, True
    first, rest = separated.groups()
    return first[0] + re.sub(r"[._-]", "", rest), len(first) == 1


def similar_local_parts(a: str, b: str) -> bool:
    """Whether two local parts at the same company domain are a near match (module docstring)."""
    if a == b or a in ROLE_LOCAL_PARTS or b in ROLE_LOCAL_PARTS:
        return False
    if a.translate(_NO_DIGITS) == b.translate(_NO_DIGITS):
        return False  # numbered accounts
    if (
        min(len(a), len(b)) >= MIN_SIMILAR_LOCAL_LENGTH
        and max(len(a), len(b)) <= MAX_SIMILAR_LOCAL_LENGTH
        and within_distance(a, b)
    ):
        return True
    key_a, initial_a = _initial_key(a)
    key_b, initial_b = _initial_key(b)
    return key_a == key_b and len(key_a) >= MIN_INITIAL_KEY_LENGTH and (initial_a or initial_b)


def _different_people(a: _Person, b: _Person) -> bool:
    """Whether the names or companies say two people at one company domain are not the same."""
    if a.last and b.last and a.last != b.last:
        return True
    if a.first and b.first and a.first[0] != b.first[0]:
        return True
    return bool(
        a.company
        and b.company
        and not (a.company.startswith(b.company) or b.company.startswith(a.company))
    )


def _reasons(a: _Person, b: _Person) -> tuple[str, ...]:
    same_name = a.first and a.last and (a.first, a.last) == (b.first, b.last)
    reasons = []
    if same_name and a.company and a.company == b.company:
        reasons.append(SAME_NAME_COMPANY)
    if same_name and a.domain and a.domain == b.domain:
        reasons.append(SAME_NAME_DOMAIN)
    if (
        len(a.local) >= MIN_LOCAL_LENGTH
        and a.local not in ROLE_LOCAL_PARTS
        and a.local == b.local
        and a.email_domain != b.email_domain
        and (not a.last or not b.last or a.last == b.last)
    ):
        reasons.append(SAME_EMAIL_NAME)
    if (
        a.domain
        and b.domain
        and a.local
        and b.local
        and a.email_domain == b.email_domain
        and similar_local_parts(a.local, b.local)
        and not _different_people(a, b)
    ):
        reasons.append(SIMILAR_EMAIL)
    return tuple(reasons)


def _pairs_in_python(limit: int, after: tuple[int, int] | None, window: int = WINDOW) -> list[Pair]:
    people = _people(window)
    blocks: dict[tuple[str, ...], list[_Person]] = defaultdict(list)
    for person in people:
        if person.first and person.last:
            blocks[("name", person.first, person.last)].append(person)
        if person.local:
            blocks[("local", person.local)].append(person)
        if person.domain and person.local:
            blocks[("domain", person.email_domain)].append(person)
    found: dict[tuple[int, int], tuple[str, ...]] = {}
    for block in blocks.values():
        for x, y in combinations(block, 2):
            a, b = (x, y) if x.id < y.id else (y, x)
            key = (b.id, a.id)
            if key in found or (a.stage == Stage.LEAD and b.stage == Stage.LEAD):
                continue
            if after is not None and key >= after:
                continue
            reasons = _reasons(a, b)
            if reasons:
                found[key] = reasons
    ordered = sorted(found.items(), reverse=True)[:limit]
    return [(newer, older, reasons) for (newer, older), reasons in ordered]
