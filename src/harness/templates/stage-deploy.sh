#!/usr/bin/env bash
# DEPLOY_COMMAND of a stage on one machine, systemd-style (harness/stage_stack.py installs it with a
# deploy.conf beside it; README "Deploying and gating a stage" explains it).
#
# Contract (`deploy.sh`, the DEPLOY_COMMAND; `deploy.sh stop` stops the service, as systemd's ExecStop=):
#   in:   DEPLOY_SHA   the commit to run (required; it must exist where the deploy directory fetches from)
#         DEPLOY_STAGE the stage's name (informational)
#   does: fetch the deploy directory's origin, check DEPLOY_SHA out, install the runtime dependencies,
#         stop the running service and its sync worker (by its pidfile, nothing else), start the new ones from the deploy
#         directory over TLS with only the settings of service.env (as systemd's EnvironmentFile= would)
#         and BUILD_SHA, then wait until it answers GET /api/version.
#   out:  exit 0 once the new service answers; non-zero with the reason (and the log's tail) on stderr.
#         Nothing is migrated here: `invoke release` migrates before it deploys.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
. "$here/deploy.conf"  # DEPLOY_DIR SERVICE_ENV SERVICE_HOST SERVICE_PORT TLS_CERT TLS_KEY CA_BUNDLE PID_FILE SERVICE_LOG READY_TIMEOUT_S

fail() { echo "stage-deploy: $*" >&2; exit 1; }

checkout() {
    git -C "$DEPLOY_DIR" fetch --quiet origin || fail "git fetch from $(git -C "$DEPLOY_DIR" remote get-url origin) failed"
    git -C "$DEPLOY_DIR" -c advice.detachedHead=false checkout --quiet --force "$DEPLOY_SHA" \
        || fail "commit $DEPLOY_SHA is not in $(git -C "$DEPLOY_DIR" remote get-url origin)"
    (cd "$DEPLOY_DIR" && uv sync --locked --no-dev --quiet) || fail "uv sync --locked --no-dev failed in $DEPLOY_DIR"
}

# The pidfile's process, if it is still our service (a reused pid belongs to someone else).
running_pid() {
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "integration_service.app" || return 1
    echo "$pid"
}

stop_service() {
    local pid
    if pid="$(running_pid)"; then
        kill -TERM -- "-$pid" 2>/dev/null || true  # its own session: uvicorn and anything it started
        for _ in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
}

start_service() {
    local sha
    sha="$(git -C "$DEPLOY_DIR" rev-parse HEAD)"
    echo "---- $(date -u +%FT%TZ) starting $sha" >>"$SERVICE_LOG"
    cd "$DEPLOY_DIR"
    # A clean environment, as a unit gets: PATH, HOME, the settings file and the build's identity. Its own
    # session (setsid), no inherited descriptors: it outlives this script, whose caller waits for our output.
    # env, setsid and bash each exec the next, so $! is the service's pid. A build with a sync worker starts
    # one first, in the same session: stopping the service's group stops it too (on a real machine the
    # workers are units of their own, README "Sync workers").
    env -i PATH="$PATH" HOME="${HOME:-/}" LANG=C.UTF-8 SERVICE_ENV="$SERVICE_ENV" BUILD_SHA="$sha" \
        setsid bash -c 'set -a; . "$SERVICE_ENV"; set +a
            if [ -f src/integration_service/worker.py ]; then "$0" -m integration_service.worker & fi
            exec "$0" "$@"' \
        "$DEPLOY_DIR/.venv/bin/python" -m uvicorn integration_service.app:app_from_env --factory \
        --host "$SERVICE_HOST" --port "$SERVICE_PORT" --ssl-certfile "$TLS_CERT" --ssl-keyfile "$TLS_KEY" \
        --no-access-log --timeout-graceful-shutdown 5 --timeout-keep-alive 75 \
        >>"$SERVICE_LOG" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
}

wait_until_answering() {
    local url="https://$SERVICE_HOST:$SERVICE_PORT/api/version" deadline=$((SECONDS + READY_TIMEOUT_S)) code
    while [ "$SECONDS" -lt "$deadline" ]; do
        # Alive by pid, not by command line: while env, setsid and bash exec each other, /proc/PID/cmdline
        # can read empty for an instant, and a loaded machine hits that instant.
        kill -0 "$(cat "$PID_FILE")" 2>/dev/null || fail "the service exited while starting:
$(tail -c 3000 "$SERVICE_LOG")"
        code="$(curl --silent --output /dev/null --write-out '%{http_code}' --cacert "$CA_BUNDLE" --max-time 2 "$url" || true)"
        if [ "$code" -ge 200 ] && [ "$code" -lt 500 ]; then
            return 0
        fi
        sleep 0.2
    done
    fail "the service did not answer $url within ${READY_TIMEOUT_S}s:
$(tail -c 3000 "$SERVICE_LOG")"
}

case "${1:-deploy}" in
stop)
    stop_service
    exit 0
    ;;
deploy) : "${DEPLOY_SHA:?DEPLOY_SHA must name the commit to deploy}" ;;
*) fail "usage: DEPLOY_SHA=<commit> $0 | $0 stop" ;;
esac
checkout
stop_service
start_service
wait_until_answering
echo "deployed ${DEPLOY_SHA:0:10} to ${DEPLOY_STAGE:-the stage}: https://$SERVICE_HOST:$SERVICE_PORT (pid $(cat "$PID_FILE"))"
