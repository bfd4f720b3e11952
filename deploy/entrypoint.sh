#!/bin/sh
# Chooses the process a container runs.
set -e
role="${1:-api}"
[ $# -gt 0 ] && shift
case "$role" in
  api|web)    exec ichnaea-api "$@" ;;
  worker)     exec ichnaea-worker "$@" ;;
  scheduler)  exec ichnaea-scheduler "$@" ;;
  map)        exec ichnaea-tiles "$@" ;;
  admin)      exec ichnaea-admin "$@" ;;
  shell)      if [ $# -gt 0 ]; then exec "$@"; else exec /bin/sh; fi ;;
  *) echo "usage: entrypoint.sh api|worker|scheduler|map|admin ARGS…|shell [CMD…]" >&2; exit 1 ;;
esac
