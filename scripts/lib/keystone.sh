# A Keystone of a script's own (sourced by tempest/run): SQLite and fernet tokens in a folder of its own, one
# gunicorn worker on 127.0.0.1 (two workers on SQLite lock each other out under tempest's credential churn).
#   keystone_start VENV DIR PORT PASSWORD   bootstraps, starts it and waits for it; sets keystone_pid
#   keystone_stop                           stops it by its PID
#   keystone_catalog CLIENT_VENV URL        registers block-storage and volumev3 endpoints at URL/v3/$(project_id)s
#                                           and the image endpoint at URL/image (the store built into ashlar serve)
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

keystone_start() {
    local venv=$1 dir=$2 port=$3 password=$4
    mkdir -p "$dir/log" "$dir/fernet-keys" "$dir/credential-keys"
    sed "s|@DIR@|$dir|g" "$(dirname "${BASH_SOURCE[0]}")/../../tempest/keystone.conf.in" >"$dir/keystone.conf"
    # oslo.config reads sys.argv: gunicorn's own arguments must not reach it.
    printf 'import sys\nsys.argv = sys.argv[:1]\nfrom keystone.wsgi.api import application  # noqa: E402\n' \
        >"$dir/keystone_app.py"
    local manage=("$venv/bin/keystone-manage" --config-file "$dir/keystone.conf")
    local owner=()
    [ "$(id -u)" != 0 ] || owner=(--keystone-user root --keystone-group root)
    "${manage[@]}" db_sync
    "${manage[@]}" fernet_setup "${owner[@]}"
    "${manage[@]}" credential_setup "${owner[@]}"
    local url="http://127.0.0.1:$port/v3"
    "${manage[@]}" bootstrap --bootstrap-password "$password" --bootstrap-region-id RegionOne \
        --bootstrap-admin-url "$url" --bootstrap-internal-url "$url" --bootstrap-public-url "$url"
    OS_KEYSTONE_CONFIG_FILES="$dir/keystone.conf" "$venv/bin/gunicorn" --chdir "$dir" --workers 1 \
        --bind "127.0.0.1:$port" --timeout 120 keystone_app:application >"$dir/log/gunicorn.log" 2>&1 &
    keystone_pid=$!
    local i
    for i in $(seq 1 120); do
        if curl -sf "$url" >/dev/null; then return 0; fi
        kill -0 "$keystone_pid" 2>/dev/null || { cat "$dir/log/gunicorn.log" >&2; return 1; }
        sleep 0.5
    done
    echo "keystone did not answer on $url within 60 s" >&2
    return 1
}

keystone_stop() {
    stop_pid "${keystone_pid:-}"
    keystone_pid=
}

keystone_catalog() {
    local client=$1 url=$2 service kind
    for service in block-storage volumev3; do
        "$client/bin/openstack" service create --name "cinder-$service" "$service" -f value -c id >/dev/null
        for kind in public internal admin; do
            "$client/bin/openstack" endpoint create --region RegionOne "$service" "$kind" \
                "$url/v3/%(project_id)s" -f value -c id >/dev/null
        done
    done
    "$client/bin/openstack" service create --name glance image -f value -c id >/dev/null
    for kind in public internal admin; do
        "$client/bin/openstack" endpoint create --region RegionOne image "$kind" "$url/image" -f value -c id >/dev/null
    done
}
