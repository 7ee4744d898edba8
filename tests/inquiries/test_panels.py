"""The inquiry page shows the panels other apps register, without importing those apps."""

import pytest
from django.utils.html import format_html

from inquiries.views import panels
from tests.factories import InquiryFactory


@pytest.fixture
def extra_panel(monkeypatch):
    """A registered panel of a pretend app, removed again after the test."""
    monkeypatch.setattr(panels, "_panels", dict(panels._panels))
    seen = []

    def render(request, principal, inquiry, state):
        seen.append((inquiry.pk, principal.tenant.pk, dict(state)))
        return format_html('<article data-testid="extra">Extra for {}</article>', inquiry.email)

    panels.register("extra", render, order=99)
    return seen


def test_a_registered_panel_is_shown_on_the_inquiry_page(client, actors, extra_panel):
    inquiry = InquiryFactory(tenant=actors.tenant_a, email="pat@buyer.test")
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert '<article data-testid="extra">Extra for pat@buyer.test</article>' in content
    assert extra_panel == [(inquiry.pk, actors.tenant_a.pk, {})]


def test_panels_are_shown_in_their_order(client, actors, extra_panel):
    panels.register(
        "first", lambda *args: format_html('<p data-testid="{}">first</p>', "first"), order=-1
    )
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert content.index('data-testid="first"') < content.index('data-testid="extra"')


def test_another_tenants_inquiry_page_is_404_and_renders_no_panel(client, actors, extra_panel):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    client.force_login(actors.outsider.user)
    assert client.get(f"/inquiries/{inquiry.pk}/").status_code == 404
    assert extra_panel == []
