# A RabbitMQ node of a script's own, in a folder of its own, on the ports given (sourced by examples/seed-lab/run
# and bench/rpc).
#   rabbitmq_prepare DIR NODENAME ADDRESS AMQP_PORT EPMD_PORT DIST_PORT
# writes DIR's configuration and sets:
#   rabbitmq_env     env(1) arguments to run rabbitmq-server with
#   rabbitmq_server  the rabbitmq-server script
#   rabbitmq_epmd    the epmd to start first, on EPMD_PORT (otherwise the VM starts one we could not stop)
# free_port (for the ports to give it) comes with the process helpers.
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"
rabbitmq_server=/usr/lib/rabbitmq/bin/rabbitmq-server
rabbitmq_epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -n1)
[ -n "$rabbitmq_epmd" ] || rabbitmq_epmd=$(command -v epmd || true)

rabbitmq_prepare() {
    local dir=$1 node=$2 address=$3 amqp=$4 epmd=$5 dist=$6
    [ -x "$rabbitmq_server" ] && [ -n "$rabbitmq_epmd" ] || {
        echo "rabbitmq-server is not installed (apt-get install rabbitmq-server, or scripts/setup-test-env)" >&2
        return 1
    }
    mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
    echo '[].' >"$dir/enabled_plugins"
    printf 'listeners.tcp.1 = %s:%s\nloopback_users = none\nlog.console = false\n' "$address" "$amqp" >"$dir/rabbitmq.conf"
    rabbitmq_env=(env "HOME=$dir/home" "RABBITMQ_NODENAME=$node@localhost" "RABBITMQ_NODE_IP_ADDRESS=$address"
        "RABBITMQ_NODE_PORT=$amqp" "RABBITMQ_DIST_PORT=$dist" "ERL_EPMD_PORT=$epmd"
        "ERL_EPMD_ADDRESS=127.0.0.1" "RABBITMQ_MNESIA_BASE=$dir/mnesia" "RABBITMQ_LOG_BASE=$dir/log"
        "RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf" "RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config"
        "RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf" "RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins"
        "RABBITMQ_PID_FILE=$dir/rabbitmq.pid")
}

