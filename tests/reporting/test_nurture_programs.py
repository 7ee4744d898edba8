"""The per-program nurture breakdown: enrolled → engaged → MQL → lead → won, in the period.

Tenant A in America/New_York, the period March 2026 there; times in UTC:

=====  ===========  ==========================  ===========================================
who    program      enrolled                    then
=====  ===========  ==========================  ===========================================
q1     Spring       2 Mar                       clicks 4 Mar, → MQL 6 Mar, lead 8 Mar won;
                                                enrolled in Spring again 20 Mar (one person)
q2     Spring       5 Mar                       clicked 1 Mar, before enrolling: not engaged
q3     Spring       10 Mar, exited 12 Mar       visits 14 Mar, after leaving: not engaged
q4     Webinar      1 Apr 02:00 (31 Mar NY)     → MQL 2 Apr (engaged by becoming one)
q5     Webinar      1 Mar 03:00 (28 Feb NY)     outside the period
q6     Webinar      3 Mar                       its won lead is from 1 Mar, before: not counted
=====  ===========  ==========================  ===========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from django.test import Client

from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from nurture.models import Enrollment, EnrollmentState, NurtureProgram
from reporting.dashboards import selectors
from tests.conftest import Actor, make_actor
from tests.factories import ActivityFactory, InquiryFactory, LeadFactory

pytestmark = pytest.mark.django_db
PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}
STEPS = ("enrolled", "engaged", "mqls", "leads", "won")


def at(month: int, day: int, hour: int = 15) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@dataclass
class Programs:
    manager: Actor
    spring: NurtureProgram
    webinar: NurtureProgram


@pytest.fixture
def programs(actors) -> Programs:
    return build_programs(actors.tenant_a)


def build_programs(tenant) -> Programs:
    """The data set of the table above, in ``tenant``; its manager to look at it."""
    tenant.timezone = "America/New_York"
    tenant.save()
    by = Principal.system(tenant, "tests")
    with tenant_context(tenant):
        spring = NurtureProgram.objects.create(tenant=tenant, name="Spring", position=1)
        webinar = NurtureProgram.objects.create(tenant=tenant, name="Webinar", position=2)
        people = {n: InquiryFactory(tenant=tenant, created_at=at(2, 20)) for n in range(1, 7)}

        def enroll(n, program, when, exited=None):
            Enrollment.objects.create(
                tenant=tenant,
                inquiry=people[n],
                program=program,
                enrolled_at=when,
                state=EnrollmentState.EXITED if exited else EnrollmentState.ACTIVE,
                exited_at=exited,
            )

        def move(n, stage, when):
            stages.move_many("inquiry", [people[n].pk], stage, by=by)
            from leadflow.tenancy.models import StageChange

            StageChange.objects.filter(object_id=people[n].pk, to_stage=stage).update(
                created_at=when
            )

        enroll(1, spring, at(3, 2), exited=at(3, 6))
        ActivityFactory(tenant=tenant, inquiry=people[1], kind="email_click", occurred_at=at(3, 4))
        move(1, "mql", at(3, 6))
        LeadFactory(tenant=tenant, inquiry=people[1], created_at=at(3, 8), stage="won")
        enroll(1, spring, at(3, 20))
        enroll(2, spring, at(3, 5))
        ActivityFactory(tenant=tenant, inquiry=people[2], kind="email_click", occurred_at=at(3, 1))
        enroll(3, spring, at(3, 10), exited=at(3, 12))
        ActivityFactory(tenant=tenant, inquiry=people[3], kind="page_visit", occurred_at=at(3, 14))
        enroll(4, webinar, at(4, 1, hour=2))
        move(4, "mql", at(4, 2))
        enroll(5, webinar, at(3, 1, hour=3))
        LeadFactory(tenant=tenant, inquiry=people[6], created_at=at(3, 1), stage="won")
        enroll(6, webinar, at(3, 3))
    return Programs(make_actor(tenant, Role.MANAGER), spring, webinar)


def get(actor, path, **params):
    return actor.api().get(f"/api/v1/reports/{path}/", {**PERIOD, **params})


def by_name(body):
    return {row["name"]: row for row in body["programs"]}


def test_each_program_counts_the_people_enrolled_in_the_period_and_how_far_they_got(programs):
    found = by_name(get(programs.manager, "nurture/programs").json())
    spring, webinar = found["Spring"], found["Webinar"]
    assert [spring[s] for s in STEPS] == [3, 1, 1, 1, 1]
    assert [webinar[s] for s in STEPS] == [2, 1, 1, 0, 0]
    assert spring["rates"]["won"] == "0.3333"
    assert webinar["rates"]["enrolled"] == "1.0000"


def test_one_program_is_asked_for_by_its_id(programs):
    body = get(programs.manager, "nurture/programs", program=programs.webinar.pk).json()
    assert [row["name"] for row in body["programs"]] == ["Webinar"]


def test_the_breakdown_reads_a_constant_number_of_queries(programs, django_assert_num_queries):
    scope = selectors.Scope(
        tenant=programs.spring.tenant,
        tz=UTC,
        first=date(2026, 3, 1),
        last=date(2026, 3, 31),
    )
    with tenant_context(programs.spring.tenant), django_assert_num_queries(2):
        selectors.nurture_programs(scope)


@pytest.mark.parametrize("step", STEPS)
def test_each_program_figures_rows_count_equals_the_figure(programs, step):
    found = by_name(get(programs.manager, "nurture/programs").json())
    for program in (programs.spring, programs.webinar):
        rows = get(
            programs.manager, "rows", metric=f"nurture.program.{step}", program=program.pk
        ).json()
        assert rows["count"] == found[program.name][step], (program.name, step)


def test_a_program_figures_rows_need_the_program(programs):
    response = get(programs.manager, "rows", metric="nurture.program.won")
    assert response.status_code == 400
    assert "program" in response.json()["errors"]


def test_another_tenants_program_is_a_404(programs, actors):
    other = programs.spring.pk
    assert get(actors.outsider, "nurture/programs", program=other).status_code == 404
    rows = get(actors.outsider, "rows", metric="nurture.program.enrolled", program=other)
    assert rows.status_code == 404
    client = Client()
    client.force_login(actors.outsider.user)
    page = client.get(
        "/reports/rows/", {**PERIOD, "metric": "nurture.program.enrolled", "program": other}
    )
    assert page.status_code == 404


def test_another_tenant_sees_none_of_the_programs(programs, actors):
    names = set(by_name(get(actors.outsider, "nurture/programs").json()))
    assert not names & {"Spring", "Webinar"}


def test_the_nurture_page_shows_each_program_linked_to_its_people(programs):
    client = Client()
    client.force_login(programs.manager.user)
    text = client.get("/reports/nurture/", PERIOD).content.decode()
    assert "Per program" in text
    link = f"program={programs.spring.pk}&amp;metric=nurture.program.enrolled"
    assert link in text
    csv = client.get("/reports/nurture.csv", {**PERIOD, "table": "1"}).content.decode()
    assert "Spring,3,1,1,1,1,33.3%" in csv.replace("\r", "")


def test_empty_parameters_mean_not_given(programs):
    """An empty value is "not given" (``query_fields.EmptyMeansNotGiven``), never a 400."""
    body = get(programs.manager, "nurture/programs", program="", source="", campaign="")
    assert {"Spring", "Webinar"} <= set(by_name(body.json()))


def funnel_page(program):
    marketer = make_actor(program.tenant, Role.MARKETER)
    response = marketer.api().get(f"/api/v1/nurture/programs/{program.pk}/funnel/")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_programs_own_funnel_counts_as_the_dashboard_does(programs):
    """The program page's funnel (all its enrollments) uses the dashboard's definition."""
    dashboard = by_name(get(programs.manager, "nurture/programs").json())["Spring"]
    page = funnel_page(programs.spring)
    assert [page[s] for s in ("enrolled", "engaged", "mql", "lead", "won")] == [
        dashboard[s] for s in STEPS
    ]


def test_a_programs_own_funnel_counts_every_enrollment_not_a_period(programs):
    """Webinar's q4 enrolled on 1 April: outside the March dashboard, on the program page."""
    page = funnel_page(programs.webinar)
    assert [page[s] for s in ("enrolled", "engaged", "mql", "lead", "won")] == [3, 1, 1, 0, 0]


def test_a_won_lead_from_before_enrolling_is_not_won_on_the_program_page(programs):
    """q6's lead was won on 1 March, before its enrollment on 3 March."""
    assert funnel_page(programs.webinar)["won"] == 0
