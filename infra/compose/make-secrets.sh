#!/bin/sh
# Every secret compose.yaml mounts, made once under infra/compose/secrets/ (never overwritten):
# the PostgreSQL passwords, and Clearpost's keys and tokens by `clearpost keys bootstrap`.
# Run from a checkout with `make install` done, or set CLEARPOST to another clearpost command
# (e.g. CLEARPOST="docker run --rm -v $PWD/infra/compose/secrets:/out clearpost:0.1.0").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/secrets"
clearpost=${CLEARPOST:-"$here/../../.venv/bin/clearpost"}
if [ -e "$out" ]; then
  echo "make-secrets: $out exists; secrets are made once (move it away to start over)" >&2
  exit 1
fi
umask 077
mkdir -p "$out"
password() { python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")'; }
password > "$out/postgres-password"
password > "$out/temporal-db-password"
password > "$out/clearpost-db-password"
target=$out
case "$clearpost" in docker*) target=/out ;; esac
$clearpost keys bootstrap "$target/clearpost" \
  --database-url "postgresql+asyncpg://clearpost:$(cat "$out/clearpost-db-password")@postgresql:5432/clearpost"
# The folder stays 0700 on the host; inside the PostgreSQL and Temporal containers (other uids)
# each mounted password file must be readable. Clearpost's containers run as uid 10001.
chmod 0444 "$out"/*-password
if [ "$(id -u)" = 0 ]; then
  chown -R 10001:10001 "$out/clearpost"
else
  echo "make-secrets: run 'sudo chown -R 10001:10001 $out/clearpost' so the containers can read their secrets"
fi
echo "make-secrets: wrote $out"
