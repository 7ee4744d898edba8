"""The Monday report: win / loss / postpone per rep, partner, team and tenant, one ISO week."""
