#!/bin/sh
# First start of the PostgreSQL container: a role for Temporal (which creates its two databases
# with its schema tool) and one for Clearpost with its database (each service in its own schema).
set -eu
temporal_pw=$(cat /run/secrets/temporal-db-password)
clearpost_pw=$(cat /run/secrets/clearpost-db-password)
psql -v ON_ERROR_STOP=1 --username postgres \
  -v temporal_pw="$temporal_pw" -v clearpost_pw="$clearpost_pw" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_pw';
CREATE ROLE clearpost LOGIN PASSWORD :'clearpost_pw';
CREATE DATABASE clearpost OWNER clearpost;
SQL
