#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory.
# Creates the two roles README "PostgreSQL roles" describes and the leadflow
# database. The passwords come from the environment (docker-compose.yml) and
# reach psql through \getenv, so they appear in no command line.
set -e

: "${LEADFLOW_OWNER_PASSWORD:?LEADFLOW_OWNER_PASSWORD must be set}"
: "${LEADFLOW_APP_PASSWORD:?LEADFLOW_APP_PASSWORD must be set}"

psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv owner_password LEADFLOW_OWNER_PASSWORD
\getenv app_password LEADFLOW_APP_PASSWORD
-- Owns the tables; `migrate --database owner` runs as this role.
CREATE ROLE leadflow_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
  PASSWORD :'owner_password';
-- The runtime role: not superuser, owns nothing, no BYPASSRLS. Its table
-- rights are granted by `migrate` (leadflow/tenancy/grants.py).
CREATE ROLE leadflow_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
  PASSWORD :'app_password';
CREATE DATABASE leadflow OWNER leadflow_owner;
REVOKE ALL ON DATABASE leadflow FROM PUBLIC;
GRANT CONNECT ON DATABASE leadflow TO leadflow_app;
SQL
