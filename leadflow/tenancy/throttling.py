"""Per-caller request rate: each API key and each user token has its own budget."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from leadflow.tenancy.principal import Principal


class CallerRateThrottle(SimpleRateThrottle):
    scope = "caller"

    def get_cache_key(self, request, view) -> str:
        principal = request.auth
        if isinstance(principal, Principal):
            ident = f"{principal.tenant.pk}:{principal.caller}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
