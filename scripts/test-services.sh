#!/usr/bin/env bash
# Make PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) reachable for the second test pass,
# starting them where this machine has them installed.
# Exit 0: both reachable. Exit 1: absent (e.g. a laptop): the caller skips that pass.
# Under CI=true absence is an error (exit 2): CI must never silently skip the PostgreSQL pass.
set -u

reachable() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! reachable 5432 && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start >&2 || true
fi
if ! reachable 6379 && command -v redis-server >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2 || true
fi

for _ in $(seq 1 40); do
  if reachable 5432 && reachable 6379; then exit 0; fi
  sleep 0.5
done

missing=""
reachable 5432 || missing="$missing PostgreSQL(127.0.0.1:5432)"
reachable 6379 || missing="$missing Redis(127.0.0.1:6379)"
if [ "${CI:-}" = "true" ]; then
  echo "ERROR: CI needs$missing for the PostgreSQL + Redis test pass, and could not start them." >&2
  exit 2
fi
echo "SKIPPED the PostgreSQL + Redis test pass: not reachable:$missing." >&2
echo "Start them (see README, 'Tests') and run 'make test' again to run it." >&2
exit 1
