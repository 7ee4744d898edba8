#!/usr/bin/env bash
# Runs once, after 01-roles.sh: lets row-level security use the inbox's
# full-text index (see scripts/postgres_search_leakproof.sql for why it is safe).
set -e
for db in template1 leadflow; do
  psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$db" \
    -f /leadflow/search-leakproof.sql
done
