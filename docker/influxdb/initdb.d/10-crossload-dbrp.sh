#!/bin/sh
# Run once by the influxdb image, after `influx setup` created the org, the bucket and the admin token (the
# influx CLI is configured with them): map the InfluxQL database to the bucket, so that InfluxQL (Grafana's
# crossload dashboards, InfluxDB 1.x-style clients) reads the bucket as STACK_DBRP_DATABASE/autogen.
set -eu
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${STACK_DBRP_DATABASE:-${DOCKER_INFLUXDB_INIT_BUCKET}}" \
  --rp autogen \
  --default
