"""The tenant's public inquiry form, embeddable in an iframe on the tenant's own site.

No session and no CSRF cookie can be relied on inside a third-party iframe, so
the form is CSRF-exempt; a honeypot field and a per-address rate limit keep
bots out. A bot that fills the honeypot sees the thank-you page and nothing is
stored.
"""

from __future__ import annotations

from csp.decorators import csp_replace
from django.core.cache import cache
from django.db import transaction
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from inquiries.forms import HONEYPOT, PublicInquiryForm
from inquiries.models import Consent, Source
from inquiries.selectors.inquiries import campaign_list, public_form_fields
from inquiries.services.capture import capture_inquiry
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal

RATE_LIMIT = 10  # submissions per address per tenant
RATE_WINDOW = 600  # seconds


def _over_limit(request, tenant: Tenant) -> bool:
    key = f"public-form:{tenant.pk}:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, RATE_WINDOW)
    try:
        return cache.incr(key) > RATE_LIMIT
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RATE_WINDOW)
        return False


@csrf_exempt
@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"], "form-action": ["'self'"]})
def inquiry_form(request, tenant_slug: str):
    """Show the form, or record the response and thank the buyer."""
    tenant = get_object_or_404(Tenant, slug=tenant_slug)
    with tenant_context(tenant):
        fields = list(public_form_fields())
        form = PublicInquiryForm(request.POST or None, custom_fields=fields)
        context = {"tenant": tenant, "form": form, "honeypot": HONEYPOT}
        if request.method != "POST":
            return render(request, "inquiries/public_form.html", context)
        if request.POST.get(HONEYPOT):
            return render(request, "inquiries/public_thanks.html", context)
        if _over_limit(request, tenant):
            context["error"] = "Too many submissions from your address; please try again later."
            return render(request, "inquiries/public_form.html", context, status=429)
        if not form.is_valid():
            return render(request, "inquiries/public_form.html", context, status=400)
        data = form.cleaned_data
        campaign = campaign_list().filter(pk=request.GET.get("campaign") or 0).first()
        profile = {
            name: data.get(name)
            for name in (
                "first_name",
                "last_name",
                "email",
                "phone",
                "company",
                "title",
                "company_size",
                "industry",
                "country",
                "interest",
                "timeline",
            )
        }
        try:
            with transaction.atomic():
                capture_inquiry(
                    profile=profile,
                    custom=form.custom_values(),
                    source=Source.WEB_FORM,
                    campaign=campaign,
                    consent=Consent.OPTED_IN if data.get("consent") else Consent.UNKNOWN,
                    activity_details={
                        "form": "public",
                        "page": request.headers.get("Referer", "")[:500],
                    },
                    by=Principal.system(tenant, "public form"),
                )
        except RuleViolation as exc:
            field = exc.field.replace("custom.", "custom__")
            form.add_error(field if field in form.fields else None, exc.message)
            return render(request, "inquiries/public_form.html", context, status=400)
        return render(request, "inquiries/public_thanks.html", context)
