#!/usr/bin/env bash
# Ensures the services that integration tests need are up on loopback, idempotently:
#   PostgreSQL 127.0.0.1:5432 with wal_level=logical (database `test`),
#   Redis 127.0.0.1:6379, NATS with JetStream 127.0.0.1:4222.
# Prints what it did; exits non-zero with a clear message when a service cannot be made ready.
set -euo pipefail

PGHOST_=127.0.0.1 PGPORT_=5432 REDIS_PORT=6379 NATS_PORT=4222
READY_TIMEOUT=${SERVICES_TIMEOUT:-60}

say() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# wait_for NAME CMD...: retries CMD until it succeeds or READY_TIMEOUT seconds pass.
wait_for() {
  local name=$1; shift
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "$name not ready after ${READY_TIMEOUT}s"
    sleep 0.5
  done
}

apt_ready=0
ensure_pkg() { # ensure_pkg COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing $2 (Debian package) for $1"
  if [ $apt_ready = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null || die "could not install $2"
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- PostgreSQL
pg_ready() { pg_isready -q -h "$PGHOST_" -p "$PGPORT_"; }
psql_() { psql -h "$PGHOST_" -p "$PGPORT_" -U postgres -d postgres -Atqc "$1"; }
pg_cluster_ctl() { # pg_cluster_ctl start|restart
  local ver; ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$ver" ] || die "PostgreSQL is not installed (no /etc/postgresql); install the postgresql package"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main "$1"
}

ensure_pkg pg_isready postgresql-client
if pg_ready; then
  say "PostgreSQL: already accepting connections on $PGHOST_:$PGPORT_"
else
  say "PostgreSQL: starting"
  pg_cluster_ctl start || true
  wait_for PostgreSQL pg_ready
  say "PostgreSQL: started"
fi
wal=$(psql_ "show wal_level") || die "cannot query PostgreSQL as user postgres (trust auth expected)"
if [ "$wal" != "logical" ]; then
  say "PostgreSQL: wal_level is $wal; setting wal_level=logical and restarting"
  psql_ "ALTER SYSTEM SET wal_level = 'logical'" >/dev/null
  pg_cluster_ctl restart
  wait_for PostgreSQL pg_ready
  wal=$(psql_ "show wal_level")
  [ "$wal" = "logical" ] || die "wal_level is still $wal after restart"
  say "PostgreSQL: wal_level=logical"
else
  say "PostgreSQL: wal_level=logical already"
fi
for setting in max_replication_slots max_wal_senders; do
  v=$(psql_ "show $setting")
  (( v >= 10 )) || die "PostgreSQL $setting is $v; CDC tests need at least 10"
done
if [ "$(psql_ "select 1 from pg_database where datname = 'test'")" != "1" ]; then
  psql_ "create database test" >/dev/null
  say "PostgreSQL: created database test"
fi

# ---------------------------------------------------------------- Redis
ensure_pkg redis-cli redis-tools
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }
if redis_ready; then
  say "Redis: already answering PING on 127.0.0.1:$REDIS_PORT"
else
  ensure_pkg redis-server redis-server
  say "Redis: starting"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis_ready
  say "Redis: started"
fi

# ---------------------------------------------------------------- NATS + JetStream
# Asks the server for JetStream account info over the raw NATS protocol.
jetstream_ready() {
  local reply
  reply=$(timeout 3 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$NATS_PORT"'
    printf "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB _INBOX.svc 1\r\nPUB \$JS.API.INFO _INBOX.svc 0\r\n\r\nPING\r\n" >&3
    while IFS= read -r -t 2 line <&3; do
      case "$line" in *account_info_response*|*\"memory\"*) echo ok; break;; *jetstream\ not\ enabled*|*503*) echo nojs; break;; esac
    done' 2>/dev/null) || true
  [ "$reply" = "ok" ]
}
if tcp_open "$NATS_PORT"; then
  if jetstream_ready; then
    say "NATS: already up with JetStream on 127.0.0.1:$NATS_PORT"
  else
    die "NATS on 127.0.0.1:$NATS_PORT answers but JetStream is not enabled; restart it with -js"
  fi
else
  ensure_pkg nats-server nats-server
  say "NATS: starting with JetStream"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p "$NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for NATS tcp_open "$NATS_PORT"
  wait_for JetStream jetstream_ready
  say "NATS: started"
fi

say "all services ready"
