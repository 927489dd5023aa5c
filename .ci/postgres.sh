#!/usr/bin/env bash
# Start this machine's PostgreSQL 15 cluster and create the role and database the tests use.
# Prints nothing on success but the URL; idempotent. Under CI a failure here fails the build,
# because the store's Postgres tests must never skip silently there.
set -euo pipefail
URL="postgresql://leads:leads@127.0.0.1:5432/leads_test"
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "postgres: installing postgresql-15 with apt" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
fi
if ! pg_lsclusters 2>/dev/null | grep -q '^15 *main'; then
  pg_createcluster 15 main >&2
fi
pg_ctlcluster 15 main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p 5432
as_postgres "psql -q -v ON_ERROR_STOP=1 -d postgres" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'leads') THEN
    CREATE ROLE leads LOGIN CREATEDB PASSWORD 'leads';
  END IF;
END $$;
SQL
if ! as_postgres "psql -tA -d postgres -c \"SELECT 1 FROM pg_database WHERE datname = 'leads_test'\"" | grep -q 1; then
  as_postgres "createdb -O leads leads_test"
fi
echo "$URL"
