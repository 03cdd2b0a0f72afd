#!/bin/sh
# Run once by the influxdb:2.7 image at set-up (after DOCKER_INFLUXDB_INIT_* created the org,
# the token and the raw bucket "<db>/raw").
#
# Rollup tiers as buckets named <db>/<rp>: InfluxDB 2.x maps v1 database "<db>" with
# retention policy "<rp>" to them, so fleetmon's v1 writes and queries reach the right bucket.
#
# That automatic mapping is never the database's *default* (influxdb dbrp/service.go,
# PR #23626), and InfluxQL without a retention policy needs one: SHOW TAG VALUES (fleetmon's
# host list, Grafana's host picker) and Grafana's panel queries answer "default retention
# policy not set for: <db>" without it. So the raw bucket is mapped as the default.
set -e
org=$DOCKER_INFLUXDB_INIT_ORG
token=$DOCKER_INFLUXDB_INIT_ADMIN_TOKEN
raw_bucket=$DOCKER_INFLUXDB_INIT_BUCKET
db=${raw_bucket%/*}
for spec in 5m:168h 1h:720h 1d:8760h; do
  rp=${spec%%:*}; retention=${spec#*:}
  influx bucket create --org "$org" --name "$db/$rp" --retention "$retention" --token "$token"
done
raw_id=$(influx bucket list --org "$org" --name "$raw_bucket" --hide-headers --token "$token" | cut -f1)
influx v1 dbrp create --org "$org" --db "$db" --rp "${raw_bucket##*/}" --bucket-id "$raw_id" \
  --default --token "$token"
