"""Groups of roles that share a permission, named once for every app.

A page, an API and a service that agree on who may do a thing use the same
tuple from here, so adding a role to a group changes all three.
"""

from __future__ import annotations

from leadflow.tenancy.models import Role

#: The tenant's managers: partners, definitions' publishing, reasons.
MANAGERS: tuple[str, ...] = (Role.ADMIN, Role.MANAGER)

#: Who changes marketing's setup: campaigns, custom fields, lead definitions.
EDITORS: tuple[str, ...] = (Role.ADMIN, Role.MANAGER, Role.MARKETER)

#: Everyone who works the marketing side and reads its pages.
MARKETING: tuple[str, ...] = (Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.QUALIFIER)
