#!/usr/bin/env bash
# Smoke test of `make run` on a fresh clone with no servers (SQLite, filesystem broker):
# the login page is served, a demo user logs in and sees their tenant, and the
# Celery worker and beat start.
#
#   scripts/smoke_make_run.sh                 # honest fresh path: the clone builds its own .venv
#   SMOKE_VENV=$PWD/.venv scripts/smoke_make_run.sh   # reuse an installed venv (no reinstall)
#
# SMOKE_PORT picks the port (default: a free one). SMOKE_TIMEOUT is how long to
# wait for the login page (default 180 s; includes building the venv).
# Note: it clones the committed HEAD; uncommitted changes are not tested.
set -euo pipefail

ROOT="$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)"
TIMEOUT="${SMOKE_TIMEOUT:-180}"
CELERY_TIMEOUT=60
DEMO_EMAIL="admin@acme.example"
DEMO_PASSWORD="leadflow-demo"
DEMO_TENANT="Acme Robotics"

pass() { echo "PASS: $*"; }
info() { echo "----: $*"; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT="${SMOKE_PORT:-$(free_port)}"
BASE="http://127.0.0.1:${PORT}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/leadflow-smoke.XXXXXX")"
CLONE="$WORK/leadflow"
LOG="$WORK/make-run.log"
JAR="$WORK/cookies.txt"
RUN_PID=""
FAILED=0

# Every process started below, as "pid" lines; honcho starts web, worker and
# beat in their own sessions, so killing make's process group is not enough.
descendants() {
    local pid child
    for pid in "$@"; do
        for child in $(pgrep -P "$pid" 2>/dev/null || true); do
            echo "$child"
            descendants "$child"
        done
    done
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$RUN_PID" ]]; then
        local pids
        pids="$(descendants "$RUN_PID" | sort -u | tr '\n' ' ')"
        # make and honcho share the group led by RUN_PID (setsid); honcho
        # forwards SIGTERM to each of its process groups.
        kill -TERM -- "-$RUN_PID" 2>/dev/null || true
        # Give honcho up to 15 s to stop everything (it SIGKILLs after 5 s).
        local alive
        for _ in $(seq 1 30); do
            alive=0
            for pid in "$RUN_PID" $pids; do
                kill -0 "$pid" 2>/dev/null && alive=1 && break
            done
            (( alive )) || break
            sleep 0.5
        done
        if (( alive )); then
            kill -KILL -- "-$RUN_PID" 2>/dev/null || true
            # Whatever is left (honcho itself died early?): each child's group, then the pid.
            for pid in $pids; do
                kill -KILL -- "-$pid" 2>/dev/null || true
                kill -KILL "$pid" 2>/dev/null || true
            done
        fi
        wait "$RUN_PID" 2>/dev/null || true
    fi
    if [[ $status -ne 0 || $FAILED -ne 0 ]]; then
        echo "---- last 60 lines of the make run log ($LOG) ----"
        tail -n 60 "$LOG" 2>/dev/null || echo "(no log)"
        echo "----"
        echo "FAIL: smoke test of 'make run' failed"
        status=1
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    FAILED=1
    echo "FAIL: $*"
    exit 1
}

if curl -s -o /dev/null --max-time 2 "$BASE/"; then
    fail "something already answers on port $PORT; set SMOKE_PORT to a free port"
fi

info "cloning $ROOT (HEAD $(git -C "$ROOT" rev-parse --short HEAD)) into $CLONE"
git clone -q "$ROOT" "$CLONE"

MAKE_ARGS=()
if [[ -n "${SMOKE_VENV:-}" ]]; then
    VENV="$(cd "$SMOKE_VENV" && pwd)"
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/honcho" ]] || fail "SMOKE_VENV=$SMOKE_VENV has no python/honcho"
    # -o: never rebuild this venv's install stamp (the fresh clone's pyproject.toml
    # is newer), or make would re-point the venv's editable install at the clone.
    MAKE_ARGS=("VENV=$VENV" "-o" "$VENV/.installed-stamp")
    info "reusing the venv $VENV"
else
    info "the clone builds its own .venv (about a minute)"
fi

info "starting 'make run' on port $PORT (log: $LOG)"
(
    cd "$CLONE"
    exec env -u DATABASE_URL -u DATABASE_OWNER_URL -u REDIS_URL -u VAR_DIR \
        -u CACHE_KEY_PREFIX -u EMAIL_URL -u DEBUG -u VENV \
        PORT="$PORT" setsid make run "${MAKE_ARGS[@]}"
) >"$LOG" 2>&1 &
RUN_PID=$!

started=$SECONDS
code=000
while (( SECONDS - started < TIMEOUT )); do
    kill -0 "$RUN_PID" 2>/dev/null || fail "'make run' exited before serving the login page"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/login/" || true)"
    [[ "$code" == "200" ]] && break
    sleep 1
done
[[ "$code" == "200" ]] || fail "GET /login/ did not answer 200 within ${TIMEOUT}s (last: $code)"
pass "GET /login/ answered 200 after $(( SECONDS - started ))s"

grep -q "Starting development server at $BASE/" "$LOG" \
    || fail "the log does not show runserver on $BASE (PORT not passed through?)"
pass "runserver listens on the requested port $PORT"

login_page="$(curl -s -c "$JAR" -b "$JAR" "$BASE/login/")"
grep -q 'name="csrfmiddlewaretoken"' <<<"$login_page" || fail "the login page has no CSRF form"
csrf="$(awk '$6 == "csrftoken" { print $7 }' "$JAR" | tail -n 1)"
[[ -n "$csrf" ]] || fail "no csrftoken cookie after GET /login/"

home="$WORK/home.html"
final="$(curl -s -L -c "$JAR" -b "$JAR" -o "$home" -w '%{http_code} %{url_effective}' \
    -H "Referer: $BASE/login/" \
    --data-urlencode "username=$DEMO_EMAIL" \
    --data-urlencode "password=$DEMO_PASSWORD" \
    --data-urlencode "csrfmiddlewaretoken=$csrf" \
    "$BASE/login/")"
[[ "$final" == "200 $BASE/" ]] || fail "log in as $DEMO_EMAIL ended at '$final', not '200 $BASE/'"
grep -q 'data-testid="home-heading">'"$DEMO_TENANT"'<' "$home" \
    || fail "the home page after log in has no heading '$DEMO_TENANT'"
pass "$DEMO_EMAIL logged in and sees the home page of $DEMO_TENANT"

started=$SECONDS
worker_ready=0
beat_started=0
while (( SECONDS - started < CELERY_TIMEOUT )); do
    grep -Eq 'celery@[^ ]+ ready' "$LOG" && worker_ready=1
    grep -q 'beat: Starting' "$LOG" && beat_started=1
    (( worker_ready && beat_started )) && break
    kill -0 "$RUN_PID" 2>/dev/null || break
    sleep 1
done
(( worker_ready )) || fail "the log does not show the Celery worker ready ('celery@... ready')"
pass "Celery worker is ready"
(( beat_started )) || fail "the log does not show Celery beat starting ('beat: Starting')"
pass "Celery beat started"

# The routing, recall, digest, compliance and registration paths on the same SQLite.
if [[ -n "${SMOKE_VENV:-}" ]]; then PY="$VENV/bin/python"; else PY="$CLONE/.venv/bin/python"; fi
(
    cd "$CLONE"
    env -u DATABASE_URL -u DATABASE_OWNER_URL -u REDIS_URL -u VAR_DIR -u CACHE_KEY_PREFIX \
        -u EMAIL_URL -u VENV DEBUG=1 "$PY" scripts/smoke_sqlite_paths.py
) || fail "a routing/recall/digest/compliance/registration path failed on SQLite"
echo "PASS: 'make run' on a fresh clone serves LeadFlow and the demo login works"
