"""Teams and territory rules of the router (issue 16): the one place they are checked and written.

The pages under ``/settings/routing/`` and the API's ``/api/v1/teams/`` and
``/api/v1/routing-rules/`` call these functions. Only the tenant's admins and
managers change them (never a partner). Every value is checked before anything
is written, so a refused change leaves the rows as they were; every change is
an audit event with the values before and after.

Rules keep the positions 1..n (the router reads them in that order); a team is
deleted only when no rule points to it (the tenant's default team is cleared
by the foreign key's ``SET_NULL``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from django.db import transaction
from django.db.models import Max
from django.utils.timezone import now

from inquiries.services.validation import NULL_MESSAGE, clean_country
from leadflow.lib.company_size import COMPANY_SIZE_MAX
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Partner
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services.audit import record_audit
from leads.models import LeadSettings, RoutingRule, Team, TeamMember
from leads.selectors.settings import lead_settings
from leads.selectors.teams import MEMBER_ROLES

MAX_NAME_LENGTH = 100
MAX_LIST_LENGTH = 50
MAX_VALUE_LENGTH = 100
WEIGHT_RANGE = (1, 10)
RULE_FIELDS = (
    "name",
    "team",
    "countries",
    "regions",
    "industries",
    "size_min",
    "size_max",
    "is_active",
)
NO_CRITERIA_MESSAGE = (
    "This rule would catch every lead: give a country, region, industry or company size, "
    "or use the default team instead."
)


# --- checks ----------------------------------------------------------------------------


def _may_change(by: Principal) -> None:
    # Who gets the tenant's leads: its admins and managers decide, never a partner.
    if by.is_partner or not by.has_role(*MANAGERS):
        raise RuleViolation(
            field="role",
            code="forbidden",
            message="Only admins and managers change teams and routing rules.",
        )


def _clean_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str):
        raise RuleViolation(field=field, code="invalid", message="Give a name (text).")
    if "\x00" in value:
        raise RuleViolation(field=field, code="invalid", message=NULL_MESSAGE)
    name = " ".join(value.split())
    if not name:
        raise RuleViolation(field=field, code="blank", message="Give a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise RuleViolation(
            field=field,
            code="too_long",
            message=f"A name has at most {MAX_NAME_LENGTH} characters (this has {len(name)}).",
        )
    return name


def _same_tenant(row: Any, by: Principal, field: str, what: str) -> None:
    if row is None or row.tenant_id != by.tenant.pk:
        raise RuleViolation(field=field, code="unknown", message=f"Choose one of the {what}.")


def _text_list(field: str, value: Any) -> list[str]:
    """Trimmed, inner spaces collapsed, duplicates (ignoring case) dropped, order kept."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise RuleViolation(field=field, code="invalid", message="Give a list of texts.")
    kept: list[str] = []
    seen: set[str] = set()
    for item in value:
        if "\x00" in item:
            raise RuleViolation(field=field, code="invalid", message=NULL_MESSAGE)
        text = " ".join(item.split())
        if not text or text.casefold() in seen:
            continue
        if len(text) > MAX_VALUE_LENGTH:
            raise RuleViolation(
                field=field,
                code="too_long",
                message=f"Each value has at most {MAX_VALUE_LENGTH} characters: "
                f"{text[:40]!r}… is longer.",
            )
        seen.add(text.casefold())
        kept.append(text)
    if len(kept) > MAX_LIST_LENGTH:
        raise RuleViolation(
            field=field,
            code="too_many",
            message=f"Give at most {MAX_LIST_LENGTH} values (you gave {len(kept)}).",
        )
    return kept


def _countries(value: Any) -> list[str]:
    codes: list[str] = []
    for text in _text_list("countries", value):
        try:
            code = clean_country(text)
        except ValueError as refused:
            raise RuleViolation(
                field="countries", code="invalid_country", message=str(refused)
            ) from None
        if code not in codes:
            codes.append(code)
    return codes


def _size(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COMPANY_SIZE_MAX:
        raise RuleViolation(
            field=field,
            code="invalid",
            message=f"Give a whole number of employees from 0 to {COMPANY_SIZE_MAX:,}.",
        )
    return value


def _clean_rule(values: dict[str, Any], by: Principal) -> dict[str, Any]:
    unknown = sorted(set(values) - set(RULE_FIELDS))
    if unknown:
        raise RuleViolation(field=unknown[0], code="unknown", message="Not a field of a rule.")
    team = values.get("team")
    cleaned: dict[str, Any] = {"name": _clean_name(values.get("name"))}
    _same_tenant(team, by, "team", "tenant's teams")
    cleaned["team"] = team
    cleaned["countries"] = _countries(values.get("countries"))
    cleaned["regions"] = _text_list("regions", values.get("regions"))
    cleaned["industries"] = _text_list("industries", values.get("industries"))
    cleaned["size_min"] = _size("size_min", values.get("size_min"))
    cleaned["size_max"] = _size("size_max", values.get("size_max"))
    low, high = cleaned["size_min"], cleaned["size_max"]
    if low is not None and high is not None and low > high:
        raise RuleViolation(
            field="size_max",
            code="below_minimum",
            message=f"The largest company size must be at least the smallest ({low}).",
        )
    is_active = values.get("is_active", True)
    if not isinstance(is_active, bool):
        raise RuleViolation(field="is_active", code="invalid", message="Give true or false.")
    cleaned["is_active"] = is_active
    criteria = ("countries", "regions", "industries", "size_min", "size_max")
    if all(cleaned[name] in ([], None) for name in criteria):
        raise RuleViolation(field="criteria", code="no_criteria", message=NO_CRITERIA_MESSAGE)
    return cleaned


# --- snapshots for the audit trail ----------------------------------------------------


def rule_snapshot(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "position": rule.position,
        "team": rule.team_id,
        "countries": rule.countries,
        "regions": rule.regions,
        "industries": rule.industries,
        "size_min": rule.size_min,
        "size_max": rule.size_max,
        "is_active": rule.is_active,
    }


def _members_snapshot(team: Team) -> list[dict[str, Any]]:
    return [
        {"member": row.membership_id, "partner": row.partner_id, "weight": row.weight}
        for row in TeamMember.objects.filter(team=team).order_by("position", "id")
    ]


# --- teams ----------------------------------------------------------------------------


def _refuse_taken_name(name: str, exclude: int | None = None) -> None:
    taken = Team.objects.filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise RuleViolation(
            field="name", code="duplicate", message=f"There is already a team called “{name}”."
        )


def create_team(*, name: str, by: Principal) -> Team:
    """A new, empty team (names are unique in the tenant, ignoring case)."""
    _may_change(by)
    clean = _clean_name(name)
    with transaction.atomic():
        _refuse_taken_name(clean)
        team = Team.objects.create(tenant=by.tenant, name=clean)
        record_audit(action="routing.team_created", obj=team, after={"name": clean}, by=by)
    return team


def rename_team(*, team: Team, name: str, by: Principal) -> Team:
    _may_change(by)
    _same_tenant(team, by, "team", "tenant's teams")
    clean = _clean_name(name)
    with transaction.atomic():
        _refuse_taken_name(clean, exclude=team.pk)
        before = {"name": team.name}
        team.name = clean
        team.save(update_fields=["name"])
        record_audit(
            action="routing.team_renamed", obj=team, before=before, after={"name": clean}, by=by
        )
    return team


def delete_team(*, team: Team, by: Principal) -> None:
    """Delete a team no rule points to; the default team setting falls back to none."""
    _may_change(by)
    _same_tenant(team, by, "team", "tenant's teams")
    with transaction.atomic():
        used_by = list(
            RoutingRule.objects.filter(team=team)
            .order_by("position")
            .values_list("name", flat=True)
        )
        if used_by:
            names = ", ".join(f"“{name}”" for name in used_by[:3])
            more = f" and {len(used_by) - 3} more" if len(used_by) > 3 else ""
            raise RuleViolation(
                field="team",
                code="in_use",
                conflict=True,  # the request is fine; the team's state refuses it: 409
                message=f"Rules send leads to this team ({names}{more}): "
                "give them another team or delete them first.",
            )
        record_audit(
            action="routing.team_deleted",
            obj=team,
            before={"name": team.name, "members": _members_snapshot(team)},
            by=by,
        )
        team.delete()


Member = Membership | Partner


def _clean_members(
    members: Sequence[tuple[Member, int | None]], by: Principal
) -> list[tuple[Member, int | None]]:
    field = "members"
    seen: set[str] = set()
    cleaned: list[tuple[Member, int | None]] = []
    for who, weight in members:
        if isinstance(who, Membership):
            key = f"m{who.pk}"
            if who.tenant_id != by.tenant.pk:
                raise RuleViolation(field=field, code="unknown", message="Not a member here.")
            name = who.user.display_name
            if not who.is_active:
                raise RuleViolation(field=field, code="inactive", message=f"{name} is deactivated.")
            if who.partner_id is not None or who.role not in MEMBER_ROLES:
                raise RuleViolation(
                    field=field,
                    code="role",
                    message=f"{name} cannot own leads in a team: only reps, managers and "
                    "admins (and partners, as the partner) can.",
                )
        elif isinstance(who, Partner):
            key = f"p{who.pk}"
            if who.tenant_id != by.tenant.pk:
                raise RuleViolation(field=field, code="unknown", message="Not a partner here.")
            name = who.name
        else:
            raise RuleViolation(field=field, code="invalid", message="Give members or partners.")
        if key in seen:
            raise RuleViolation(
                field=field, code="duplicate", message=f"{name} is in the list twice."
            )
        seen.add(key)
        low, high = WEIGHT_RANGE
        if weight is not None and (
            isinstance(weight, bool) or not isinstance(weight, int) or not low <= weight <= high
        ):
            raise RuleViolation(
                field="weight",
                code="out_of_range",
                message=f"{name}'s weight: give a whole number from {low} to {high}, "
                "or leave it empty (1 for a person, the tier's for a partner).",
            )
        cleaned.append((who, weight))
    return cleaned


def set_team_members(
    *, team: Team, members: Sequence[tuple[Member, int | None]], by: Principal
) -> list[TeamMember]:
    """Replace the team's places with ``members`` in the given order (their positions)."""
    _may_change(by)
    _same_tenant(team, by, "team", "tenant's teams")
    cleaned = _clean_members(members, by)
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()
        before = _members_snapshot(team)
        TeamMember.objects.filter(team=team).delete()
        rows = TeamMember.objects.bulk_create(
            [
                TeamMember(
                    tenant=by.tenant,
                    team=team,
                    membership=who if isinstance(who, Membership) else None,
                    partner=who if isinstance(who, Partner) else None,
                    weight=weight,
                    position=position,
                )
                for position, (who, weight) in enumerate(cleaned, start=1)
            ]
        )
        record_audit(
            action="routing.team_members_set",
            obj=team,
            before={"members": before},
            after={"members": _members_snapshot(team)},
            by=by,
        )
    return rows


def set_default_team(*, team: Team | None, by: Principal) -> LeadSettings:
    """Where leads matching no rule go (``None``: round robin over the active reps)."""
    _may_change(by)
    if team is not None:
        _same_tenant(team, by, "default_team", "tenant's teams")
    with transaction.atomic():
        row = LeadSettings.objects.select_for_update().filter(tenant_id=by.tenant.pk).first()
        if row is None:
            row = lead_settings()  # unsaved, with the defaults
        before = {"default_team": row.default_team_id}
        row.default_team = team
        row.updated_at = now()
        row.save()
        record_audit(
            action="routing.default_team_set",
            obj=row,
            before=before,
            after={"default_team": row.default_team_id},
            by=by,
        )
    return row


# --- rules ----------------------------------------------------------------------------


def _locked_rules() -> list[RoutingRule]:
    return list(RoutingRule.objects.select_for_update().order_by("position", "id"))


def _renumber(rules: list[RoutingRule]) -> None:
    changed = []
    for position, rule in enumerate(rules, start=1):
        if rule.position != position:
            rule.position = position
            changed.append(rule)
    if changed:
        RoutingRule.objects.bulk_update(changed, ["position"])


def create_rule(
    *,
    name: str,
    team: Team,
    countries: Sequence[str] = (),
    regions: Sequence[str] = (),
    industries: Sequence[str] = (),
    size_min: int | None = None,
    size_max: int | None = None,
    is_active: bool = True,
    by: Principal,
) -> RoutingRule:
    """A new rule, last in the order."""
    _may_change(by)
    cleaned = _clean_rule(
        {
            "name": name,
            "team": team,
            "countries": list(countries),
            "regions": list(regions),
            "industries": list(industries),
            "size_min": size_min,
            "size_max": size_max,
            "is_active": is_active,
        },
        by,
    )
    with transaction.atomic():
        _locked_rules()
        last = RoutingRule.objects.aggregate(last=Max("position"))["last"] or 0
        rule = RoutingRule.objects.create(tenant=by.tenant, position=last + 1, **cleaned)
        record_audit(action="routing.rule_created", obj=rule, after=rule_snapshot(rule), by=by)
    return rule


def update_rule(*, rule: RoutingRule, by: Principal, **changes: Any) -> RoutingRule:
    """Change the given fields of ``rule`` (the others stay); all checked together."""
    _may_change(by)
    _same_tenant(rule, by, "rule", "tenant's rules")
    current = {name: getattr(rule, name) for name in RULE_FIELDS}
    cleaned = _clean_rule({**current, **changes}, by)
    with transaction.atomic():
        before = rule_snapshot(rule)
        for name, value in cleaned.items():
            setattr(rule, name, value)
        rule.updated_at = now()
        rule.save()
        record_audit(
            action="routing.rule_changed",
            obj=rule,
            before=before,
            after=rule_snapshot(rule),
            by=by,
        )
    return rule


def delete_rule(*, rule: RoutingRule, by: Principal) -> None:
    """Delete ``rule``; the ones after it move up (positions stay 1..n)."""
    _may_change(by)
    _same_tenant(rule, by, "rule", "tenant's rules")
    with transaction.atomic():
        rules = _locked_rules()
        record_audit(action="routing.rule_deleted", obj=rule, before=rule_snapshot(rule), by=by)
        RoutingRule.objects.filter(pk=rule.pk).delete()
        _renumber([each for each in rules if each.pk != rule.pk])


def move_rule(
    *, rule: RoutingRule, direction: Literal["up", "down"] | str, by: Principal
) -> RoutingRule:
    """Swap ``rule`` with the one before (``up``) or after it (``down``)."""
    _may_change(by)
    _same_tenant(rule, by, "rule", "tenant's rules")
    if direction not in ("up", "down"):
        raise RuleViolation(field="direction", code="invalid", message='Give "up" or "down".')
    with transaction.atomic():
        rules = _locked_rules()
        index = next((n for n, each in enumerate(rules) if each.pk == rule.pk), None)
        if index is None:
            raise RuleViolation(field="rule", code="unknown", message="The rule was deleted.")
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(rules):
            where = "first" if direction == "up" else "last"
            raise RuleViolation(
                field="direction", code="at_edge", message=f"“{rule.name}” is already {where}."
            )
        before = rules[index].position
        rules[index], rules[other] = rules[other], rules[index]
        _renumber(rules)  # the whole list: positions stay 1..n
        moved = rules[other]
        record_audit(
            action="routing.rule_moved",
            obj=moved,
            before={"position": before},
            after={"position": moved.position},
            by=by,
        )
    rule.position = moved.position
    return rule


def save_team(
    *,
    team: Team | None,
    name: str,
    members: Sequence[tuple[Member, int | None]] | None,
    by: Principal,
) -> Team:
    """Create (``team`` None) or rename a team and, when given, set its members: all or nothing
    (the team form and the API's create and update both go through here)."""
    with transaction.atomic():
        if team is None:
            team = create_team(name=name, by=by)
        elif name != team.name:
            team = rename_team(team=team, name=name, by=by)
        if members is not None:
            set_team_members(team=team, members=members, by=by)
    return team
