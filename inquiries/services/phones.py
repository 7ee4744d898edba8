"""Re-normalising stored phone numbers after the rule changed or the tenant's country was set.

Numbers stored when phones were compared by their digits alone (``030
1234567`` and ``+49 30 1234567`` as two people) are parsed again with
``phonenumbers`` against the tenant's country; the duplicates that reveals
(several inquiries now sharing a number) are listed for a qualifier to merge
on the duplicates page — never merged silently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction

from inquiries.models import Inquiry
from inquiries.services.planner import refresh_statistics
from leadflow.lib import phone as phone_lib
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

BATCH = 2000


@dataclass
class PhoneReport:
    checked: int = 0
    changed: int = 0
    # Numbers (E.164) now shared by several inquiries, with their ids (oldest first).
    duplicates: dict[str, list[int]] = field(default_factory=dict)


def renormalize_phones(*, by: Principal, batch: int = BATCH) -> PhoneReport:
    """Parse every stored phone again in the tenant's country; list the duplicates revealed.

    Runs in batches of ids, each its own transaction, so a large tenant is
    not locked at once; run it again and it changes nothing.
    """
    region = by.tenant.country
    report = PhoneReport()
    last = 0
    while True:
        rows = list(
            Inquiry.objects.filter(pk__gt=last)
            .exclude(phone="")
            .order_by("pk")
            .values_list("pk", "phone", "phone_normalized")[:batch]
        )
        if not rows:
            break
        changes = {}
        for pk, phone, stored in rows:
            normalized = phone_lib.normalize(phone, region)
            if normalized and normalized != stored:
                changes[pk] = normalized
        with transaction.atomic():
            for pk, normalized in changes.items():
                Inquiry.objects.filter(pk=pk).update(phone_normalized=normalized)
        report.checked += len(rows)
        report.changed += len(changes)
        last = rows[-1][0]
    shared: dict[str, list[int]] = defaultdict(list)
    for pk, number in (
        Inquiry.objects.exclude(phone_normalized="")
        .order_by("pk")
        .values_list("pk", "phone_normalized")
    ):
        shared[number].append(pk)
    report.duplicates = {n: ids for n, ids in sorted(shared.items()) if len(ids) > 1}
    with transaction.atomic():
        record_audit(
            action="inquiry.phones_renormalized",
            obj=by.tenant,
            after={
                "region": region,
                "checked": report.checked,
                "changed": report.changed,
                "duplicates": len(report.duplicates),
            },
            by=by,
        )
    refresh_statistics(report.changed)
    return report
