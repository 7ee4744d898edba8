-- Let row-level security use the full-text index of the triage inbox.
--
-- Run as a superuser, once per database (and on template1 so that new
-- databases inherit it):  psql -U postgres -d leadflow -f scripts/postgres_search_leakproof.sql
--
-- Under row-level security PostgreSQL may use an index for a condition only
-- when every function it applies to the row's columns is LEAKPROOF (cannot
-- reveal a row through an error); otherwise the policy's condition runs first
-- and the search reads the whole tenant. The inbox search
--   to_tsvector('simple', first_name || ' ' || last_name || ' ' || email || ' ' || company)
--     @@ to_tsquery('simple', ...)
-- calls these three. None of them raises on LeadFlow's data: textcat (||) only
-- joins text, ts_match_vq (@@) only compares, and to_tsvector can fail only on
-- a document over 1 MB, while the four columns together hold at most 657
-- characters (their varchar lengths in inquiries/models.py). Without this step the
-- search still returns the right rows, only slower (see docs/performance.md).
ALTER FUNCTION pg_catalog.textcat(text, text) LEAKPROOF;
ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
ALTER FUNCTION pg_catalog.to_tsvector(regconfig, text) LEAKPROOF;
