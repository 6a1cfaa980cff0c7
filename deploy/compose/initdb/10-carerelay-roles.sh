#!/bin/bash
# Runs once, when the postgres image initialises an empty data volume: CareRelay's roles and
# database (docs/operations.md, "Database roles"), with the passwords of carerelay.env.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v owner="$CARE_OWNER_PASSWORD" -v service="$CARE_SERVICE_PASSWORD" -v server="$CARE_SERVER_PASSWORD" <<'SQL'
CREATE ROLE care_owner LOGIN PASSWORD :'owner';
CREATE ROLE care_app NOLOGIN;
CREATE ROLE care_service LOGIN NOINHERIT PASSWORD :'service';
CREATE ROLE care_server LOGIN NOINHERIT PASSWORD :'server';
GRANT care_app TO care_server, care_service;
CREATE DATABASE carerelay OWNER care_owner;
SQL
