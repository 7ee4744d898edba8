"""The person's profile: the fields of an inquiry a form, the API, an import or a merge fill.

One list, read by capture (what a response may set), the API (what of its
body is profile), the CSV import (what a column may fill and which columns it
writes) and the merge (which values the newest non-empty one wins).
"""

from __future__ import annotations

#: Who the person is and how to reach them.
CONTACT_FIELDS: tuple[str, ...] = ("first_name", "last_name", "email", "phone")

#: What the person tells about their work and their plans.
ABOUT_FIELDS: tuple[str, ...] = (
    "title",
    "company",
    "company_size",
    "industry",
    "country",
    "region",
    "interest",
    "timeline",
)

PROFILE_FIELDS: tuple[str, ...] = (*CONTACT_FIELDS, *ABOUT_FIELDS)

#: The profile's fields stored as text (``company_size`` is a number).
TEXT_PROFILE_FIELDS: tuple[str, ...] = tuple(n for n in PROFILE_FIELDS if n != "company_size")

#: How the pages name each field.
PROFILE_LABELS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "title": "Title",
    "company": "Company",
    "company_size": "Company size",
    "industry": "Industry",
    "country": "Country",
    "region": "Region",
    "interest": "Interest",
    "timeline": "Buying timeline",
}
