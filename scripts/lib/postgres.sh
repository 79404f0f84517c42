# ensure_postgres: make POLARIS_TEST_PG_URL point at a reachable PostgreSQL with a database.
# Uses $POLARIS_TEST_PG_URL or the local server (127.0.0.1:5432, database test); when neither
# answers, installs Debian's PostgreSQL if needed and starts a throwaway cluster that is stopped
# when the calling script exits.

pg_reachable() {
    .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import sys
import psycopg
url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://")
psycopg.connect(url, connect_timeout=3).close()
PY
}

ensure_postgres() {
    local url="${POLARIS_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
    if pg_reachable "$url"; then
        export POLARIS_TEST_PG_URL="$url"
        return
    fi
    echo "no PostgreSQL at $url: starting a throwaway server"
    apt_install postgresql
    local bindir
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    PG_TMP="$(mktemp -d /tmp/polaris-pg.XXXXXX)"
    chmod 755 "$PG_TMP"
    local run_as=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_TMP"
        run_as=(runuser -u postgres --)
    fi
    "${run_as[@]}" "$bindir/initdb" -D "$PG_TMP/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    "${run_as[@]}" "$bindir/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
        -o "-p 55432 -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    PG_STOP=("${run_as[@]}" "$bindir/pg_ctl" -D "$PG_TMP/data" -m fast stop)
    trap 'stop_throwaway_postgres' EXIT
    "${run_as[@]}" "$bindir/createdb" -h 127.0.0.1 -p 55432 -U postgres test
    export POLARIS_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:55432/test"
}

stop_throwaway_postgres() {
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
}
