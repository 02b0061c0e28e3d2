# Processes a script starts (sourced by tempest/run, scripts/lib/keystone.sh and scripts/lib/rabbitmq.sh).
#   stop_pid PID [SECONDS [SIGNAL]]   SIGNAL (TERM), up to SECONDS (10) to go, then SIGKILL; nothing when PID
#                                     is empty or gone
#   free_port      a free TCP port of 127.0.0.1

stop_pid() {
    local pid=$1 seconds=${2:-10} signal=${3:-TERM}
    [ -n "$pid" ] || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((seconds * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
