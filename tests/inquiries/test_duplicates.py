"""Possible duplicates: likely pairs of the same person, in SQL and in the SQLite path alike."""

import random

import pytest

from inquiries.models import Inquiry
from inquiries.selectors import merging as selectors
from inquiries.selectors.merging import (
    possible_duplicates,
    similar_local_parts,
    within_distance,
)
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryFactory


def make(tenant, email, first="", last="", company="", stage="inquiry"):
    domain = email.rpartition("@")[2]
    free = domain in {"gmail.com", "yahoo.com"}
    return InquiryFactory(
        tenant=tenant,
        email=email,
        first_name=first,
        last_name=last,
        company=company,
        company_domain="" if free else domain,
        stage=stage,
    )


def found(tenant, **kwargs) -> dict[frozenset, tuple[str, ...]]:
    with tenant_context(tenant):
        page = possible_duplicates(**kwargs)
    return {frozenset((p.first.pk, p.second.pk)): p.reasons for p in page.pairs}


def pair(a, b) -> frozenset:
    return frozenset((a.pk, b.pk))


@pytest.fixture
def people(actors):
    """Generated duplicates of several kinds, and people who only look alike."""
    t = actors.tenant_a
    return {
        "ann_1": make(t, "ann.lee@acme.example", "Ann", "Lee", "Acme"),
        "ann_2": make(t, "ann.lee@gmail.com", " ann ", "LEE", "ACME "),
        "bo_1": make(t, "bo.berg@bergco.example", "Bo", "Berg", "Berg Co"),
        "bo_2": make(t, "bo@bergco.example", "Bo", "Berg", "Berg Company"),
        "jsmith": make(t, "jsmith@initech.example"),
        "j.smyth": make(t, "j.smyth@initech.example"),
        "abcd": make(t, "abcdef@initech.example"),
        "xbcy": make(t, "xbcdey@initech.example"),
        # Look alike but are not listed:
        "far": make(t, "jsmithers@initech.example"),  # distance 3 from jsmith
        "free_1": make(t, "mike77@gmail.com"),
        "free_2": make(t, "mike78@gmail.com"),  # similar, but at a free-mail domain
        "info_1": make(t, "info@one.example"),
        "info_2": make(t, "info@two.example"),  # a role address
        "kim_1": make(t, "kim.ross@one.example", "Kim", "Ross"),
        "kim_2": make(t, "kim.ross@two.example", "Kim", "Rossi"),  # names contradict
        "lead_1": make(t, "sam@lead.example", "Sam", "Reed", "Lead Co", stage="lead"),
        "lead_2": make(t, "sam.reed@lead.example", "Sam", "Reed", "Lead Co", stage="lead"),
    }


def test_the_generated_pairs_are_found_with_their_reasons(actors, people):
    p = people
    assert found(actors.tenant_a) == {
        pair(p["ann_1"], p["ann_2"]): ("same_name_company", "same_email_name"),
        pair(p["bo_1"], p["bo_2"]): ("same_name_domain",),
        pair(p["jsmith"], p["j.smyth"]): ("similar_email",),  # one insertion, one substitution
        pair(p["abcd"], p["xbcy"]): ("similar_email",),  # two substitutions
    }


@pytest.mark.postgres
def test_the_sqlite_path_finds_the_same_pairs(actors, people):
    with tenant_context(actors.tenant_a):
        in_python = selectors._pairs_in_python(100, None)
        in_sql = selectors._pairs_in_sql(100, None)
    assert in_python == in_sql
    assert len(in_python) == 4


def test_only_pairs_among_the_newest_inquiries_are_compared(actors, people):
    # The window ends inside the "abcd" / "xbcy" pair: of the others only the
    # newest pair (made last in the fixture, both leads) would be in it.
    p = people
    window = len(p) - list(p).index("xbcy")
    assert found(actors.tenant_a, window=window) == {}
    assert found(actors.tenant_a, window=window + 1) == {
        pair(p["abcd"], p["xbcy"]): ("similar_email",)
    }


@pytest.mark.postgres
def test_the_sqlite_path_keeps_to_the_same_window(actors, people):
    window = len(people) - list(people).index("xbcy") + 1
    with tenant_context(actors.tenant_a):
        in_python = selectors._pairs_in_python(100, None, window)
        assert in_python == selectors._pairs_in_sql(100, None, window)
    assert len(in_python) == 1


def test_pairs_of_another_tenant_are_not_listed(actors, people):
    make(actors.tenant_b, "ann.lee@acme.example", "Ann", "Lee", "Acme")
    assert found(actors.tenant_b) == {}


def test_pages_follow_each_other_without_gaps_or_repeats(actors, people):
    with tenant_context(actors.tenant_a):
        first = possible_duplicates(limit=3)
        second = possible_duplicates(limit=3, after=selectors.parse_cursor(first.next_after))
    assert len(first.pairs) == 3 and first.next_after
    assert len(second.pairs) == 1 and second.next_after is None
    assert {p.cursor for p in first.pairs}.isdisjoint({p.cursor for p in second.pairs})


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("jsmith", "jsmith", True),
        ("jsmith", "j.smith", True),
        ("jsmith", "jsmyth", True),
        ("ab", "ba", True),
        ("abcdef", "xbcdey", True),
        ("jsmith", "jsmithers", False),
        ("abcdef", "xyzdef", False),
    ],
)
def test_edit_distance_of_at_most_two(a, b, close):
    assert within_distance(a, b) is close


@pytest.mark.postgres
def test_the_sql_edit_distance_agrees_with_python_on_tricky_local_parts(actors):
    """Transpositions, repeated letters and edits at both ends, checked against Levenshtein."""
    t = actors.tenant_a
    locals_ = [
        "annab",
        "anab",
        "aannab",
        "nanab",
        "ananb",
        "annaaab",
        "bananab",
        "bnaanab",
        "xannab",
        "annxb",
    ]
    for local in locals_:
        make(t, f"{local}@same.example")
    with tenant_context(t):
        in_sql = {(newer, older) for newer, older, _ in selectors._pairs_in_sql(1000, None)}
        emails = dict(Inquiry.objects.values_list("pk", "email"))
    expected = {
        (b, a)
        for a in emails
        for b in emails
        if a < b and similar_local_parts(emails[a].split("@")[0], emails[b].split("@")[0])
    }
    assert in_sql == expected


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [1, 2])
def test_the_sql_edit_distance_agrees_with_python_on_random_local_parts(actors, seed):
    """Short words over three letters: many pairs at distance 1, 2 and 3 to tell apart."""
    rnd = random.Random(seed)
    words = {"".join(rnd.choices("abc", k=rnd.randint(5, 9))) for _ in range(40)}
    for word in words:
        make(actors.tenant_a, f"{word}@same.example")
    with tenant_context(actors.tenant_a):
        in_sql = {(newer, older) for newer, older, _ in selectors._pairs_in_sql(10_000, None)}
        emails = dict(Inquiry.objects.values_list("pk", "email"))
    local = {pk: email.split("@")[0] for pk, email in emails.items()}
    expected = {
        (b, a) for a in local for b in local if a < b and similar_local_parts(local[a], local[b])
    }
    assert 0 < len(expected) < len(local) * (len(local) - 1) // 2
    assert in_sql == expected


@pytest.mark.parametrize("rows", [1, 6])
def test_the_duplicates_api_query_count_does_not_grow_with_pairs(
    actors, django_assert_num_queries, rows
):
    for word in ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"][:rows]:
        make(actors.tenant_a, f"{word}@one.example", "Twin", word, f"{word} Co")
        make(actors.tenant_a, f"{word}@two.example", "Twin", word, f"{word} Co")
    api = actors.teammate.api()
    with django_assert_num_queries(5):
        response = api.get("/api/v1/inquiries/duplicates/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == rows


def test_the_duplicates_api_lists_pairs_with_a_cursor(actors, people):
    api = actors.teammate.api()
    body = api.get("/api/v1/inquiries/duplicates/", {"limit": 2}).json()
    assert len(body["results"]) == 2
    assert set(body["results"][0]) == {"first", "second", "reasons"}
    rest = api.get("/api/v1/inquiries/duplicates/", {"after": body["next_after"]}).json()
    assert len(rest["results"]) == 2 and rest["next_after"] is None


@pytest.mark.parametrize("after", ["x", "1-99999999999999999999", "0-1"])
def test_a_cursor_this_list_did_not_make_is_a_404(actors, after):
    response = actors.teammate.api().get("/api/v1/inquiries/duplicates/", {"after": after})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_another_tenant_sees_none_of_the_pairs_through_the_api(actors, people):
    body = actors.outsider.api().get("/api/v1/inquiries/duplicates/").json()
    assert body == {"results": [], "next_after": None}


def both_paths(tenant) -> list[set]:
    """The pairs as the PostgreSQL statement and the Python path find them."""
    with tenant_context(tenant):
        in_python = {frozenset(p[:2]) for p in selectors._pairs_in_python(100, None)}
        in_sql = {frozenset(p[:2]) for p in selectors._pairs_in_sql(100, None)}
    return [in_python, in_sql]


@pytest.mark.postgres
def test_numbered_addresses_of_different_people_at_one_domain_are_not_similar(actors):
    """ref1@, ref2@, ref3@ share a domain and nothing else: no evidence of one person."""
    t = actors.tenant_a
    make(t, "ref1@dealercust.example", "Lena", "Voss", "Voss Metall")
    make(t, "ref2@dealercust.example", "Omar", "Haddad", "Haddad Fabrication")
    make(t, "ref3@dealercust.example", "Ines", "Moreau", "Atelier Moreau")
    make(t, "ref4@dealercust.example")  # no name, no company: the digits alone tell them apart
    assert both_paths(t) == [set(), set()]


@pytest.mark.postgres
def test_close_addresses_of_people_with_different_names_are_not_similar(actors):
    t = actors.tenant_a
    make(t, "sam.jones@acme.example", "Sam", "Jones", "Acme")
    make(t, "sam.jonas@acme.example", "Sam", "Jonas", "Acme")  # two colleagues
    make(t, "maria.lopez@acme.example", "Maria", "Lopez", "Acme")
    make(t, "mario.lopez@acme.example", "Mario", "Lopez", "Globex")  # another company
    make(t, "dana.roe@acme.example", "Dana", "Roe")
    make(t, "tana.roe@acme.example", "Tana", "Roe")  # first names start differently
    assert both_paths(t) == [set(), set()]


@pytest.mark.postgres
def test_an_initial_and_the_written_out_first_name_at_one_company_are_similar(actors):
    t = actors.tenant_a
    initial = make(t, "j.smith@acme.example", "J", "Smith", "Acme")
    written_out = make(t, "john.smith@acme.example", "John", "Smith", "Acme Inc")
    unnamed = make(t, "jsmith@acme.example")
    jane = make(t, "jane.smith@acme.example", "Jane", "Smith", "Acme")
    free = make(t, "john.smith@gmail.com", "John", "Smith")
    with tenant_context(t):
        paths = [selectors._pairs_in_python(100, None), selectors._pairs_in_sql(100, None)]
    similar = [{frozenset(p[:2]) for p in pairs if "similar_email" in p[2]} for pairs in paths]
    expected = {pair(initial, written_out), pair(initial, unnamed), pair(written_out, unnamed)}
    # "J" may be Jane as well; two first names written out differently are two people.
    expected |= {pair(initial, jane), pair(unnamed, jane)}
    assert similar == [expected, expected]
    assert pair(jane, written_out) not in expected
    assert all(free.pk not in key for key in expected)  # free mail is no company


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("jsmith", "j.smyth", True),
        ("j.smith", "john.smith", True),
        ("jsmith", "john.smith", True),
        ("john.smith", "jane.smith", False),
        ("ref1", "ref2", False),
        ("user01", "user02", False),
        ("anna", "anne", False),  # too short for two edits to mean little
        ("sales", "sales2", False),  # a role address
    ],
)
def test_near_matching_local_parts(a, b, near):
    assert similar_local_parts(a, b) is near
