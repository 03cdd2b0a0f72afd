#!/bin/sh
# Rollup tiers as buckets named <db>/<rp>: InfluxDB 2.x maps v1 database "fleetmon" with
# retention policy "<rp>" to them, so fleetmon's v1 writes and queries reach the right bucket.
set -e
for spec in 5m:168h 1h:720h 1d:8760h; do
  rp=${spec%%:*}; retention=${spec#*:}
  influx bucket create --org "$DOCKER_INFLUXDB_INIT_ORG" --name "fleetmon/$rp" \
    --retention "$retention" --token "$DOCKER_INFLUXDB_INIT_ADMIN_TOKEN" || true
done
