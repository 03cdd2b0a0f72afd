#!/bin/sh
# The login role Grafana's alerts board reads with; its grants are dashboard/grafana-reader.sql
# (applied after the migrations have created the tables).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'pw';
SQL
