# Processes a script started (sourced by tempest/run and scripts/lib/keystone.sh).
#   stop_pid PID   SIGTERM, up to 10 s to go, then SIGKILL; nothing when PID is empty or gone

stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
}
