#!/bin/sh
# Temporal's own schema tool sets up (and, on a newer server image, upgrades) the default and the
# visibility store on PostgreSQL; run once before the server starts, and again after an upgrade.
set -eu
export SQL_PASSWORD="$(cat /run/secrets/temporal-db-password)"
schema=/etc/temporal/schema/postgresql/v12
for store in temporal:temporal temporal_visibility:visibility; do
  db=${store%%:*}
  dir=${store##*:}
  sql() { temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u temporal --db "$db" "$@"; }
  sql create || true            # the database may exist already (a re-run, an upgrade)
  sql setup-schema -v 0.0 || true  # the version table may exist already
  sql update-schema -d "$schema/$dir/versioned"
done
echo "temporal schema is current"
