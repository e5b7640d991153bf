#!/usr/bin/env bash
# A real three-node Docker Swarm on one machine: a manager dockerd in the host network namespace and two
# worker dockerds, each in a network namespace of its own joined to the host by a veth pair on a bridge.
#
#   tests/swarm/swarm.sh up                 start (idempotent) and print the env
#   tests/swarm/swarm.sh env                print DOCKER_HOST and the workers' sockets
#   tests/swarm/swarm.sh stop-worker N      stop worker N's dockerd (the node-loss test)
#   tests/swarm/swarm.sh start-worker N     start it again and wait until the manager sees it Ready
#   tests/swarm/swarm.sh stop-manager       stop the manager's dockerd (the fault test); swarm state stays
#   tests/swarm/swarm.sh start-manager      start it again and wait until the swarm serves and all nodes are Ready
#   tests/swarm/swarm.sh down               stop everything and remove all state
#
# Everything lives under its own paths (state in $PH_SWARM_STATE, sockets in $PH_SWARM_RUN), with
# --bridge none --iptables=false, so it never touches another dockerd, the host's iptables or its routes.
# Traffic goes only to loopback and to the 10.213.0.0/24 addresses of the bridge and the namespaces.
set -euo pipefail

STATE=${PH_SWARM_STATE:-/var/lib/pilothouse-swarm}
RUN=${PH_SWARM_RUN:-/run/pilothouse-swarm}
BRIDGE=phswbr0
SUBNET_PREFIX=10.213.0
MANAGER_ADDR=$SUBNET_PREFIX.1
WORKERS=(1 2)
MANAGER_SOCK=$RUN/manager.sock
IMAGES=(pilothouse-test/app:1 pilothouse-test/app:2 pilothouse-test/app:healthy pilothouse-test/app:unhealthy)
READY_TIMEOUT_S=${PH_SWARM_TIMEOUT:-60}
# Bump when the images' recipe changes: `up` rebuilds images whose label differs.
IMAGE_RECIPE=2

log() { printf 'swarm.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

worker_ns() { echo "phsw$1"; }
worker_addr() { echo "$SUBNET_PREFIX.$(($1 + 1))"; }
worker_sock() { echo "$RUN/worker$1.sock"; }
worker_name() { echo "ph-worker-$1"; }
dk() { docker -H "unix://$MANAGER_SOCK" "$@"; }
dkw() { local n=$1; shift; docker -H "unix://$(worker_sock "$n")" "$@"; }

# Poll `cmd` until it succeeds or the deadline passes; no blind sleeps.
wait_for() {
    local what=$1 timeout=$2; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what"
        sleep 0.2
    done
}

ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    [[ -x /bin/busybox ]] || command -v busybox >/dev/null || missing+=(busybox-static)
    command -v iptables >/dev/null || missing+=(iptables)
    command -v ip >/dev/null || missing+=(iproute2)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static iptables iproute2 >/dev/null
    fi
    command -v nsenter >/dev/null && command -v unshare >/dev/null || die "nsenter/unshare (util-linux) missing"
}

ensure_network() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
    fi
    ip addr replace "$MANAGER_ADDR/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    local n ns host_if
    for n in "${WORKERS[@]}"; do
        ns=$(worker_ns "$n")
        host_if="phsw${n}h"
        [[ -e /var/run/netns/$ns ]] || ip netns add "$ns"
        if ! ip link show "$host_if" >/dev/null 2>&1; then
            ip link add "$host_if" type veth peer name eth0 netns "$ns"
        fi
        ip link set "$host_if" master "$BRIDGE" up
        # `ip netns exec` remounts /sys, which breaks dockerd; `ip -n` only switches the network namespace.
        ip -n "$ns" addr replace "$(worker_addr "$n")/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
    done
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
engine_answers() { docker -H "unix://$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_manager() {
    mkdir -p "$STATE/manager" "$RUN/m"
    if pid_alive "$RUN/manager.pid" && engine_answers "$MANAGER_SOCK"; then return; fi
    log "starting manager dockerd"
    # A UTS namespace of its own gives the node a stable name without renaming the machine.
    setsid unshare --uts sh -c "hostname ph-manager; exec dockerd --data-root '$STATE/manager' \
        --exec-root '$RUN/m' --pidfile '$RUN/manager.pid' -H 'unix://$MANAGER_SOCK' \
        --bridge none --iptables=false --ip-masq=false" >"$STATE/manager.log" 2>&1 </dev/null &
}

start_worker_daemon() {
    local n=$1 ns sock
    ns=$(worker_ns "$n")
    sock=$(worker_sock "$n")
    mkdir -p "$STATE/worker$n" "$RUN/w$n"
    if pid_alive "$RUN/worker$n.pid" && engine_answers "$sock"; then return; fi
    log "starting worker $n dockerd"
    rm -f "$sock"
    setsid nsenter --net="/var/run/netns/$ns" unshare --uts sh -c "hostname $(worker_name "$n"); exec dockerd \
        --data-root '$STATE/worker$n' --exec-root '$RUN/w$n' --pidfile '$RUN/worker$n.pid' -H 'unix://$sock' \
        --bridge none --iptables=false --ip-masq=false" >"$STATE/worker$n.log" 2>&1 </dev/null &
}

stop_daemon() {
    local pidfile=$1 pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        local deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null; do
            ((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null || true; break; }
            sleep 0.1
        done
    fi
    rm -f "$pidfile"
}

swarm_state() { docker -H "unix://$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

ensure_swarm() {
    if [[ $(swarm_state "$MANAGER_SOCK") != active ]]; then
        log "swarm init"
        # A short heartbeat makes a lost node show Down within seconds (the node-loss test).
        dk swarm init --advertise-addr "$MANAGER_ADDR" --listen-addr "$MANAGER_ADDR:2377" \
            --dispatcher-heartbeat 1s >/dev/null
    fi
    local token n
    token=$(dk swarm join-token -q worker)
    for n in "${WORKERS[@]}"; do
        if [[ $(swarm_state "$(worker_sock "$n")") != active ]]; then
            log "worker $n joins"
            dkw "$n" swarm leave --force >/dev/null 2>&1 || true
            dkw "$n" swarm join --token "$token" --advertise-addr "$(worker_addr "$n")" \
                --listen-addr "$(worker_addr "$n"):2377" "$MANAGER_ADDR:2377" >/dev/null
        fi
    done
}

all_nodes_ready() {
    local ready
    ready=$(dk node ls --format '{{.Hostname}} {{.Status}}' | grep -c ' Ready$' || true)
    ((ready >= 1 + ${#WORKERS[@]}))
}

node_ready() { dk node ls --format '{{.Hostname}} {{.Status}}' | grep -qx "$1 Ready"; }

# Image layers: busybox and one symlink per applet; the CMD exits at once on SIGTERM so updates are fast.
build_images() {
    local missing=0 img
    for img in "${IMAGES[@]}"; do
        [[ $(dk image inspect --format '{{index .Config.Labels "pilothouse.recipe"}}' "$img" 2>/dev/null) == "$IMAGE_RECIPE" ]] ||
            missing=1
    done
    if ((missing)); then
        log "building images"
        local root="$STATE/rootfs" busybox
        busybox=$(command -v busybox || echo /bin/busybox)
        rm -rf "$root"
        mkdir -p "$root/bin" "$root/tmp"
        cp "$busybox" "$root/bin/busybox"
        local applet
        for applet in $("$root/bin/busybox" --list); do
            [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
        done
        local cmd='CMD ["sh", "-c", "trap \"exit 0\" TERM; sleep 86400 & wait"]'
        # No TERM trap here: sleep as PID 1 ignores SIGTERM, so swarm kills it (exit 137) and the task
        # fails with "dockerexec: unhealthy container". Exiting 0 on TERM would make the task "complete".
        local stubborn_cmd='CMD ["sleep", "86400"]'
        local recipe="LABEL pilothouse.recipe=$IMAGE_RECIPE"
        local tarball="$STATE/rootfs.tar"
        tar -C "$root" -cf "$tarball" .
        dk import --change "$cmd" --change "$recipe" --change 'ENV APP_VERSION=1' "$tarball" \
            pilothouse-test/app:1 >/dev/null
        dk import --change "$cmd" --change "$recipe" --change 'ENV APP_VERSION=2' "$tarball" \
            pilothouse-test/app:2 >/dev/null
        dk import --change "$cmd" --change "$recipe" --change 'ENV APP_VERSION=healthy' \
            --change 'HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD true' \
            "$tarball" pilothouse-test/app:healthy >/dev/null
        dk import --change "$stubborn_cmd" --change "$recipe" --change 'ENV APP_VERSION=unhealthy' \
            --change 'HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD false' \
            "$tarball" pilothouse-test/app:unhealthy >/dev/null
        rm -f "$tarball"
    fi
    local n want have loaders=()
    want=$(dk image inspect --format '{{.Id}}' "${IMAGES[@]}" | sort | tr '\n' ' ')
    for n in "${WORKERS[@]}"; do
        have=$(dkw "$n" image inspect --format '{{.Id}}' "${IMAGES[@]}" 2>/dev/null | sort | tr '\n' ' ' || true)
        if [[ $have != "$want" ]]; then
            log "loading images on worker $n"
            dk save "${IMAGES[@]}" | dkw "$n" load >/dev/null &
            loaders+=($!)
        fi
    done
    # Wait for the loaders only: the dockerds are background children of this shell too.
    local pid
    for pid in "${loaders[@]}"; do wait "$pid"; done
}

print_env() {
    echo "export DOCKER_HOST=unix://$MANAGER_SOCK"
    echo "export PH_SWARM_MANAGER_ADDR=$MANAGER_ADDR"
    local n
    for n in "${WORKERS[@]}"; do
        echo "export PH_SWARM_WORKER${n}_HOST=unix://$(worker_sock "$n")"
        echo "export PH_SWARM_WORKER${n}_NAME=$(worker_name "$n")"
    done
}

cmd_up() {
    local started=$SECONDS
    [[ $(id -u) == 0 ]] || die "must run as root (it starts dockerd and creates network namespaces)"
    ensure_packages
    mkdir -p "$STATE" "$RUN"
    ensure_network
    start_manager
    local n
    for n in "${WORKERS[@]}"; do start_worker_daemon "$n"; done
    wait_for "the manager dockerd (log: $STATE/manager.log)" "$READY_TIMEOUT_S" engine_answers "$MANAGER_SOCK"
    for n in "${WORKERS[@]}"; do
        wait_for "worker $n dockerd (log: $STATE/worker$n.log)" "$READY_TIMEOUT_S" engine_answers "$(worker_sock "$n")"
    done
    ensure_swarm
    build_images
    wait_for "all nodes Ready" "$READY_TIMEOUT_S" all_nodes_ready
    log "up in $((SECONDS - started))s"
    print_env
}

cmd_down() {
    local n
    if engine_answers "$MANAGER_SOCK"; then
        dk service ls -q | xargs -r docker -H "unix://$MANAGER_SOCK" service rm >/dev/null 2>&1 || true
    fi
    for n in "${WORKERS[@]}"; do stop_daemon "$RUN/worker$n.pid"; done
    stop_daemon "$RUN/manager.pid"
    for n in "${WORKERS[@]}"; do
        ip link del "phsw${n}h" 2>/dev/null || true
        ip netns del "$(worker_ns "$n")" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
    # dockerd leaves mounts (overlay, netns bind mounts) under its roots; unmount before removing.
    local mnt
    for mnt in $(awk -v s="$STATE" -v r="$RUN" '$2 ~ "^"s || $2 ~ "^"r {print $2}' /proc/mounts | sort -r); do
        umount -l "$mnt" 2>/dev/null || true
    done
    rm -rf "$STATE" "$RUN"
    log "down"
}

cmd_stop_worker() {
    local n=${1:?worker number}
    stop_daemon "$RUN/worker$n.pid"
}

cmd_start_worker() {
    local n=${1:?worker number}
    start_worker_daemon "$n"
    wait_for "worker $n dockerd" "$READY_TIMEOUT_S" engine_answers "$(worker_sock "$n")"
    wait_for "$(worker_name "$n") Ready" "$READY_TIMEOUT_S" node_ready "$(worker_name "$n")"
}

cmd_stop_manager() {
    stop_daemon "$RUN/manager.pid"
}

manager_serves() { [[ $(dk info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null) == true ]] && dk node ls -q; }

cmd_start_manager() {
    start_manager
    wait_for "the manager dockerd (log: $STATE/manager.log)" "$READY_TIMEOUT_S" engine_answers "$MANAGER_SOCK"
    # The swarm state is on disk: the restarted manager leads the raft again; no init, no join.
    wait_for "the manager to serve the swarm" "$READY_TIMEOUT_S" manager_serves
    wait_for "all nodes Ready" "$READY_TIMEOUT_S" all_nodes_ready
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) print_env ;;
stop-worker) cmd_stop_worker "${2:-}" ;;
start-worker) cmd_start_worker "${2:-}" ;;
stop-manager) cmd_stop_manager ;;
start-manager) cmd_start_manager ;;
*) die "usage: $0 up|down|env|stop-worker N|start-worker N|stop-manager|start-manager" ;;
esac
