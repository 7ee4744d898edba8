"""Custom fields are on the public form only when an admin or marketer says so."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inquiries.models import CustomField, Inquiry
from inquiries.services import imports
from inquiries.services.custom_fields import (
    define_custom_field,
    set_custom_field_on_public_form,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from tests.conftest import make_actor
from tests.factories import PartnerFactory


def field_of(tenant, key: str = "fleet") -> CustomField:
    with tenant_context(tenant):
        return CustomField.objects.get(key=key)


@pytest.fixture
def fleet(actors, system_a) -> CustomField:
    """A number field of tenant A, made without saying anything about the public form."""
    with tenant_context(actors.tenant_a):
        return define_custom_field(key="fleet", label="Fleet size", kind="number", by=system_a)


def public_form(client, tenant) -> str:
    return client.get(f"/f/{tenant.slug}/").content.decode()


def audit_rows(tenant) -> list[AuditEvent]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(action="custom_field.public_form_changed"))


# --- The public form ------------------------------------------------------------------


def test_a_new_field_is_off_the_public_form(client, actors, fleet):
    assert fleet.on_public_form is False
    assert "Fleet size" not in public_form(client, actors.tenant_a)


def test_a_field_with_the_flag_is_on_the_public_form(client, actors, fleet):
    with tenant_context(actors.tenant_a):
        set_custom_field_on_public_form(
            field=fleet, on_public_form=True, by=actors.teammate.principal
        )
    assert "Fleet size" in public_form(client, actors.tenant_a)


def test_a_field_created_by_an_import_is_not_on_the_public_form(client, actors):
    content = b"Email,Employee band,Import notes\r\na@b.example,11-50,called twice\r\n"
    with tenant_context(actors.tenant_a):
        job = imports.analyse_upload(
            file=SimpleUploadedFile("people.csv", content),
            file_name="people.csv",
            by=actors.owner.principal,
        )
        imports.set_mapping(
            job=job,
            mapping={
                "Email": {"to": "field", "field": "email"},
                "Employee band": {
                    "to": "custom",
                    "key": "employee_band",
                    "create": {"label": "Employee band", "kind": "text"},
                },
                "Import notes": {
                    "to": "custom",
                    "key": "import_notes",
                    "create": {"label": "Import notes", "kind": "text", "on_public_form": True},
                },
            },
            placeholders=[],
            by=actors.owner.principal,
        )
        made = dict(CustomField.objects.values_list("key", "on_public_form"))
    assert made == {"employee_band": False, "import_notes": False}
    form = public_form(client, actors.tenant_a)
    assert "Employee band" not in form
    assert "Import notes" not in form


def test_the_public_form_stores_no_value_for_a_field_it_does_not_ask(client, actors, fleet):
    posted = {"email": "buyer@plant.test", "timeline": "0-3m", "custom__fleet": "12"}
    address = {"REMOTE_ADDR": f"10.9.{uuid.uuid4().int % 250}.9"}
    client.post(f"/f/{actors.tenant_a.slug}/", posted, **address)
    with tenant_context(actors.tenant_a):
        [inquiry] = Inquiry.objects.all()
    assert inquiry.custom == {}


# --- The service ----------------------------------------------------------------------


def test_putting_a_field_on_the_form_writes_an_audit_row(actors, fleet):
    with tenant_context(actors.tenant_a):
        set_custom_field_on_public_form(
            field=fleet, on_public_form=True, by=actors.teammate.principal
        )
    [row] = audit_rows(actors.tenant_a)
    assert (row.before, row.after) == ({"on_public_form": False}, {"on_public_form": True})
    assert row.actor == actors.teammate.user
    assert row.object_id == str(fleet.pk)


def test_taking_a_field_off_the_form_writes_an_audit_row(actors, fleet):
    with tenant_context(actors.tenant_a):
        set_custom_field_on_public_form(field=fleet, on_public_form=True, by=actors.owner.principal)
        set_custom_field_on_public_form(
            field=fleet, on_public_form=False, by=actors.owner.principal
        )
    assert [row.after for row in audit_rows(actors.tenant_a)] == [
        {"on_public_form": False},
        {"on_public_form": True},
    ]
    assert field_of(actors.tenant_a).on_public_form is False


def test_setting_what_is_already_set_writes_nothing(actors, fleet):
    with tenant_context(actors.tenant_a):
        set_custom_field_on_public_form(
            field=fleet, on_public_form=False, by=actors.owner.principal
        )
    assert audit_rows(actors.tenant_a) == []


@pytest.mark.parametrize("role", [Role.MANAGER, Role.QUALIFIER, Role.REP])
def test_only_admins_and_marketers_decide_the_public_form(actors, fleet, role):
    other = make_actor(actors.tenant_a, role)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        set_custom_field_on_public_form(field=fleet, on_public_form=True, by=other.principal)
    assert (refused.value.field, refused.value.code) == ("on_public_form", "forbidden")
    assert field_of(actors.tenant_a).on_public_form is False
    assert audit_rows(actors.tenant_a) == []


# --- The API --------------------------------------------------------------------------


def patch(actor, field, body):
    return actor.api().patch(f"/api/v1/custom-fields/{field.pk}/", body, format="json")


def test_the_api_shows_whether_a_field_is_on_the_form(actors, fleet):
    [shown] = actors.teammate.api().get("/api/v1/custom-fields/").json()["results"]
    assert shown["on_public_form"] is False


@pytest.mark.parametrize("who", ["owner", "teammate"])  # admin, marketer
def test_admins_and_marketers_set_the_flag_through_the_api(actors, fleet, who):
    response = patch(getattr(actors, who), fleet, {"on_public_form": True})
    assert response.status_code == 200, response.json()
    assert response.json()["on_public_form"] is True
    assert field_of(actors.tenant_a).on_public_form is True
    assert len(audit_rows(actors.tenant_a)) == 1


@pytest.mark.parametrize("role", [Role.MANAGER, Role.QUALIFIER, Role.REP])
def test_other_roles_may_not_set_the_flag_through_the_api(actors, fleet, role):
    response = patch(make_actor(actors.tenant_a, role), fleet, {"on_public_form": True})
    assert response.status_code == 403
    assert field_of(actors.tenant_a).on_public_form is False


def test_a_partner_user_may_not_set_the_flag(actors, fleet):
    partner_user = make_actor(
        actors.tenant_a, Role.REP, partner=PartnerFactory(tenant=actors.tenant_a)
    )
    assert patch(partner_user, fleet, {"on_public_form": True}).status_code == 403


def test_another_tenants_field_is_404_through_the_api(actors, fleet):
    response = patch(actors.outsider, fleet, {"on_public_form": True})
    assert response.status_code == 404
    assert field_of(actors.tenant_a).on_public_form is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "on_public_form"),
        ({"on_public_form": "perhaps"}, "on_public_form"),
        ({"on_public_form": True, "label": "Renamed"}, "label"),
    ],
)
def test_a_bad_change_is_a_400_with_field_errors(actors, fleet, body, field):
    response = patch(actors.teammate, fleet, body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert audit_rows(actors.tenant_a) == []


def test_an_admin_may_create_a_field_on_the_form(actors):
    response = actors.owner.api().post(
        "/api/v1/custom-fields/",
        {"key": "plan", "label": "Plan", "kind": "text", "on_public_form": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["on_public_form"] is True
    assert field_of(actors.tenant_a, "plan").on_public_form is True


def test_a_manager_creates_fields_but_not_on_the_form(actors):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    refused = manager.api().post(
        "/api/v1/custom-fields/",
        {"key": "plan", "label": "Plan", "kind": "text", "on_public_form": True},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "forbidden"
    created = manager.api().post(
        "/api/v1/custom-fields/", {"key": "plan", "label": "Plan", "kind": "text"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["on_public_form"] is False


# --- The page -------------------------------------------------------------------------


def logged_in(client, actor):
    client.force_login(actor.user)
    return client


@pytest.mark.parametrize("who", ["owner", "teammate"])  # admin, marketer
def test_the_page_lists_the_tenants_fields_with_their_switch(client, actors, fleet, who):
    content = logged_in(client, getattr(actors, who)).get("/inquiries/custom-fields/")
    assert content.status_code == 200
    text = content.content.decode()
    assert "Fleet size" in text
    assert "Put on form" in text
    assert f'action="/inquiries/custom-fields/{fleet.pk}/public-form/"' in text


def test_the_page_lists_no_field_of_another_tenant(client, actors, fleet):
    with tenant_context(actors.tenant_b):
        define_custom_field(
            key="secret", label="Other tenant's field", kind="text", by=actors.outsider.principal
        )
    text = logged_in(client, actors.teammate).get("/inquiries/custom-fields/").content.decode()
    assert "Other tenant" not in text


def test_the_switch_puts_a_field_on_the_form_and_audits_it(client, actors, fleet):
    response = logged_in(client, actors.teammate).post(
        f"/inquiries/custom-fields/{fleet.pk}/public-form/", {"on_public_form": "1"}, follow=True
    )
    assert response.redirect_chain == [("/inquiries/custom-fields/", 302)]
    assert "“Fleet size” is now asked on the public form." in response.content.decode()
    assert "Take off" in response.content.decode()
    assert field_of(actors.tenant_a).on_public_form is True
    [row] = audit_rows(actors.tenant_a)
    assert row.actor == actors.teammate.user


def test_the_switch_takes_a_field_off_the_form(client, actors, fleet):
    with tenant_context(actors.tenant_a):
        set_custom_field_on_public_form(field=fleet, on_public_form=True, by=actors.owner.principal)
    logged_in(client, actors.owner).post(
        f"/inquiries/custom-fields/{fleet.pk}/public-form/", {"on_public_form": "0"}
    )
    assert field_of(actors.tenant_a).on_public_form is False


def test_a_switch_without_a_value_changes_nothing(client, actors, fleet):
    response = logged_in(client, actors.teammate).post(
        f"/inquiries/custom-fields/{fleet.pk}/public-form/", {"on_public_form": "yes"}, follow=True
    )
    assert "Choose whether the field is on the public form." in response.content.decode()
    assert field_of(actors.tenant_a).on_public_form is False
    assert audit_rows(actors.tenant_a) == []


def test_another_tenants_field_is_404_on_the_page(client, actors, fleet):
    response = logged_in(client, actors.outsider).post(
        f"/inquiries/custom-fields/{fleet.pk}/public-form/", {"on_public_form": "1"}
    )
    assert response.status_code == 404
    assert field_of(actors.tenant_a).on_public_form is False
    assert audit_rows(actors.tenant_a) == []


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.QUALIFIER])
@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/inquiries/custom-fields/"), ("post", "/inquiries/custom-fields/{pk}/public-form/")],
)
def test_other_roles_may_not_open_the_page(client, actors, fleet, role, method, path):
    other = make_actor(actors.tenant_a, role)
    response = getattr(logged_in(client, other), method)(
        path.format(pk=fleet.pk), {"on_public_form": "1"}
    )
    assert response.status_code == 403
    assert field_of(actors.tenant_a).on_public_form is False


def test_the_inquiry_list_links_the_page_for_admins_and_marketers_only(client, actors):
    assert (
        b'href="/inquiries/custom-fields/"'
        in logged_in(client, actors.teammate).get("/inquiries/").content
    )
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    assert (
        b'href="/inquiries/custom-fields/"'
        not in logged_in(client, qualifier).get("/inquiries/").content
    )


@pytest.mark.parametrize("rows", [1, 15])
def test_the_page_query_count_does_not_grow_with_fields(
    client, actors, system_a, django_assert_num_queries, rows
):
    with tenant_context(actors.tenant_a):
        for n in range(rows):
            define_custom_field(key=f"f{n}", label=f"Field {n}", kind="text", by=system_a)
    page = logged_in(client, actors.teammate)
    page.get("/inquiries/custom-fields/")
    # session, user, memberships, the fields, the definitions whose rules may read them
    with django_assert_num_queries(5):
        assert page.get("/inquiries/custom-fields/").status_code == 200


def test_a_choice_that_is_not_a_string_is_a_400_naming_the_item(actors):
    response = actors.owner.api().post(
        "/api/v1/custom-fields/",
        {"key": "plan", "label": "Plan", "kind": "choice", "choices": ["Gold", 2.5]},
        format="json",
    )
    assert response.status_code == 400
    assert "Item 2" in str(response.json())
    with tenant_context(actors.tenant_a):
        assert not CustomField.objects.filter(key="plan").exists()
