#!/usr/bin/env bash
# Makes sure MariaDB/MySQL and Redis answer on their ports (ICHNAEA_MYSQL_PORT,
# ICHNAEA_REDIS_PORT; defaults 3306 and 6379): uses running servers, starts installed ones
# with their data under var/, installs missing ones with apt-get.
source "$(dirname "$0")/lib.sh"
ensure_mysql
ensure_redis
log "MySQL on $MYSQL_HOST:$MYSQL_PORT and Redis on $REDIS_HOST:$REDIS_PORT are up"
