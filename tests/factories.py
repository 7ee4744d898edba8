"""factory-boy factories; tenant-owned rows are created inside their tenant's scope."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from inquiries.definition_template import (
    TEMPLATE_ENGAGEMENT_RULES,
    TEMPLATE_FIT_RULES,
    TEMPLATE_THRESHOLD,
)
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Partner, PartnerKind, Role, Tenant, User


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.Sequence(lambda n: f"Tenant {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    password = factory.django.Password("correct horse battery staple")


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    """Creates the row inside ``tenant_context(tenant)`` so the scoped manager accepts it."""

    class Meta:
        abstract = True

    tenant = factory.SubFactory(TenantFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with tenant_context(kwargs["tenant"]):
            return super()._create(model_class, *args, **kwargs)


class PartnerFactory(TenantOwnedFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    kind = PartnerKind.DEALER


class MembershipFactory(TenantOwnedFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.MARKETER


class CampaignFactory(TenantOwnedFactory):
    class Meta:
        model = "inquiries.Campaign"

    name = factory.Sequence(lambda n: f"Campaign {n}")
    spend = 1000


class LeadDefinitionFactory(TenantOwnedFactory):
    """An active definition with the articles' template rules unless told otherwise."""

    class Meta:
        model = "inquiries.LeadDefinition"

    version = factory.Sequence(lambda n: n + 1)
    name = "Test definition"
    status = "active"
    fit_rules = factory.LazyFunction(lambda: list(TEMPLATE_FIT_RULES))
    engagement_rules = factory.LazyFunction(lambda: list(TEMPLATE_ENGAGEMENT_RULES))
    qualifiers = factory.LazyFunction(list)
    mql_threshold = TEMPLATE_THRESHOLD


class InquiryFactory(TenantOwnedFactory):
    class Meta:
        model = "inquiries.Inquiry"

    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Buyer{n}")
    email = factory.Sequence(lambda n: f"buyer{n}@company{n}.example")
    title = "Director of Operations"
    company = factory.Sequence(lambda n: f"Company {n}")
    company_size = 250
    industry = "manufacturing"
    country = "US"
    timeline = "0-3m"


class InquiryEmailFactory(TenantOwnedFactory):
    """An additional email of an inquiry, as a merge keeps it."""

    class Meta:
        model = "inquiries.InquiryEmail"

    inquiry = factory.SubFactory(InquiryFactory, tenant=factory.SelfAttribute("..tenant"))
    email = factory.Sequence(lambda n: f"old{n}@company.example")


class ActivityFactory(TenantOwnedFactory):
    class Meta:
        model = "inquiries.Activity"

    inquiry = factory.SubFactory(InquiryFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = "form_fill"


class AppointmentFactory(TenantOwnedFactory):
    """A booked meeting a week from now, for the inquiry given (or a new one)."""

    class Meta:
        model = "leads.Appointment"

    inquiry = factory.SubFactory(InquiryFactory, tenant=factory.SelfAttribute("..tenant"))
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    uid = factory.Sequence(lambda n: f"appointment-{n}@leadflow.test")


class LeadFactory(TenantOwnedFactory):
    """A lead with the appointment that made it, for the inquiry given (or a new one)."""

    class Meta:
        model = "leads.Lead"

    inquiry = factory.SubFactory(InquiryFactory, tenant=factory.SelfAttribute("..tenant"))
    appointment = factory.SubFactory(
        AppointmentFactory,
        tenant=factory.SelfAttribute("..tenant"),
        inquiry=factory.SelfAttribute("..inquiry"),
    )
    stage = "awaiting_acceptance"


class TouchFactory(TenantOwnedFactory):
    """A call that reached nobody, on the lead given (its inquiry follows) by the user given."""

    class Meta:
        model = "leads.Touch"

    lead = None
    inquiry = factory.LazyAttribute(lambda o: o.lead.inquiry if o.lead is not None else None)
    kind = "call"
    outcome = "no_answer"


class WeeklyUpdateFactory(TenantOwnedFactory):
    """A progress update on the lead given, for the week given (a Monday).

    Keeps the lead's ``last_update_week`` and ``reported_weeks`` as ``record_weekly_update``
    does.
    """

    class Meta:
        model = "leads.WeeklyUpdate"
        skip_postgeneration_save = True

    status = "progress"

    @factory.post_generation
    def mark_lead(obj, create, extracted, **kwargs):
        if not create:
            return
        from leadflow.tenancy.context import tenant_context
        from leads.models import Lead
        from leads.services.updates import mark_reported

        with tenant_context(obj.tenant_id):
            last, reported = Lead.objects.filter(pk=obj.lead_id).values_list(
                "last_update_week", "reported_weeks"
            )[0]
            last, reported = mark_reported(last, reported, obj.week)
            Lead.objects.filter(pk=obj.lead_id).update(
                last_update_week=last, reported_weeks=reported
            )


class ImportJobFactory(TenantOwnedFactory):
    """An uploaded CSV file's import, in the state given (mapping awaited by default)."""

    class Meta:
        model = "inquiries.ImportJob"

    file_name = factory.Sequence(lambda n: f"contacts-{n}.csv")
    stored_path = factory.Sequence(lambda n: f"test/contacts-{n}.csv")


class InvitationFactory(TenantOwnedFactory):
    """A pending invitation; its link's token is ``invitation_links.token(invitation)``."""

    class Meta:
        model = "tenancy.Invitation"
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Role.MARKETER
    token_nonce = factory.Sequence(lambda n: f"{n:032x}")
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @factory.post_generation
    def usable_link(invitation, create, extracted, **kwargs):
        """Store the digest of the token the link would carry, so the link opens it."""
        from leadflow.tenancy import invitation_links

        if create:
            with tenant_context(invitation.tenant):
                invitation.token_hash = invitation_links.digest(invitation_links.token(invitation))
                invitation.save(update_fields=["token_hash"])


class TeamFactory(TenantOwnedFactory):
    """A routing team (leads.Team) with no members; add them with TeamMemberFactory."""

    class Meta:
        model = "leads.Team"

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMemberFactory(TenantOwnedFactory):
    """A place in a team: give ``membership`` or ``partner`` (never both)."""

    class Meta:
        model = "leads.TeamMember"

    team = factory.SubFactory(TeamFactory, tenant=factory.SelfAttribute("..tenant"))
    position = factory.Sequence(lambda n: n)


class RoutingRuleFactory(TenantOwnedFactory):
    """A territory rule sending leads that match it to ``team``."""

    class Meta:
        model = "leads.RoutingRule"

    name = factory.Sequence(lambda n: f"Rule {n}")
    team = factory.SubFactory(TeamFactory, tenant=factory.SelfAttribute("..tenant"))
    position = factory.Sequence(lambda n: n)
