#!/usr/bin/env bash
# Scale-out measurements (issue 16): three lvsd + BIRD 2 directors behind an ECMP router, DR real servers.
#
#   client c0 10.8.0.2 ── r0 10.8.0.1  router (BIRD 2, merge paths, fib_multipath_hash_policy=1)
#                                      r1 10.9.0.1 ─┐
#                       switch (br0) ───────────────┼── d1 10.9.0.11  d2 .12  d3 .13  (lvsd + BIRD, table 100)
#                                                   └── rs1 10.9.0.21  rs2 .22  (nginx, VIP on lo: DR)
#
# Scenarios (one fresh lab each), printed as markdown rows:
#   kill      a director's lvsd gets SIGKILL while downloads run: withdrawal time, broken downloads
#   cut       a director's link goes down (the machine dies; BIRD cannot say goodbye): BGP hold
#             time 3 s without BFD, BFD 100 ms x 3 with it (BFD=1)
#   cpu       unpaced downloads through all three: each lvsd's CPU time per million packets
# Usage: bench/ScaleOut/scaleout.sh [kill|cut|cpu]... (default: all). LVS_BIN=DIR (built binaries).
# Safety: bench/DataPlane/lab.sh's rules (namespaces of this run only, PIDs recorded, cleanup trap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../DataPlane/lab.sh
source "$here/../DataPlane/lab.sh"
VIP=192.0.2.10
LVS_BIN=${LVS_BIN:-$here/../../.build/release}
DOWNLOADS=${DOWNLOADS:-30}
FILE_MB=${FILE_MB:-4}
RATE=${RATE:-400k}
SLOPPY=${SLOPPY:-1}  # net.ipv4.vs.sloppy_tcp of the directors (lvs-sysctl -w) (0: the control run, flows cannot move)

require_commands ip:iproute2 bird:bird2 nginx:nginx-light curl:curl wrk:wrk
for b in lvsd ipvsadm lvs-realserver; do
    [ -x "$LVS_BIN/$b" ] || { echo "missing $LVS_BIN/$b (swift build -c release)" >&2; exit 1; }
done

now_ms() { date +%s%3N; }

# so_up TAG BFD: the topology, BIRD everywhere, nginx on the real servers, lvsd on the directors.
so_up() {
    local tag=$1 bfd=$2 i ns
    NS_C="$LAB_ID-$tag-c" NS_R="$LAB_ID-$tag-r" NS_SW="$LAB_ID-$tag-sw"
    NS_DIR=() NS_RS=()
    for i in 1 2 3; do NS_DIR+=("$LAB_ID-$tag-d$i"); done
    for i in 1 2; do NS_RS+=("$LAB_ID-$tag-rs$i"); done
    for ns in "$NS_C" "$NS_R" "$NS_SW" "${NS_DIR[@]}" "${NS_RS[@]}"; do
        ip netns add "$ns"
        LAB_NAMESPACES+=("$ns")
        ip -n "$ns" link set lo up
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    ip -n "$NS_C" link add c0 type veth peer name r0 netns "$NS_R"
    ip -n "$NS_C" addr add 10.8.0.2/24 dev c0
    ip -n "$NS_C" link set c0 up
    ip -n "$NS_C" route add default via 10.8.0.1
    ip -n "$NS_R" addr add 10.8.0.1/24 dev r0
    ip -n "$NS_R" link set r0 up
    ip -n "$NS_SW" link add br0 type bridge
    ip -n "$NS_SW" link set br0 up
    local port=0
    attach() { # attach NS IFNAME ADDR
        port=$((port + 1))
        ip -n "$1" link add "$2" type veth peer name "p$port" netns "$NS_SW"
        ip -n "$NS_SW" link set "p$port" master br0
        ip -n "$NS_SW" link set "p$port" up
        ip -n "$1" addr add "$3/24" dev "$2"
        ip -n "$1" link set "$2" up
    }
    attach "$NS_R" r1 10.9.0.1
    for i in 1 2 3; do attach "${NS_DIR[$((i - 1))]}" eth0 "10.9.0.1$i"; done
    for i in 1 2; do attach "${NS_RS[$((i - 1))]}" eth0 "10.9.0.2$i"; done
    nsx "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

    local bfd_proto="" bfd_on=""
    if [ "$bfd" = 1 ]; then
        bfd_on="bfd on;"
        bfd_proto='protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }'
    fi
    {
        echo "router id 10.9.0.1;"
        echo "protocol device {}"
        echo "protocol kernel { ipv4 { import none; export all; }; merge paths on limit 16; }"
        echo "$bfd_proto"
        for i in 1 2 3; do
            echo "protocol bgp d$i { local 10.9.0.1 as 65000; neighbor 10.9.0.1$i as 65101; hold time 3;"
            echo "  connect retry time 1; $bfd_on ipv4 { import all; export none; }; }"
        done
    } >"$LAB_DIR/bird-$tag-r.conf"
    lab_spawn "$NS_R" 0-1 "$LAB_DIR/bird-$tag-r.out" bird -f -c "$LAB_DIR/bird-$tag-r.conf" \
        -s "$LAB_DIR/bird-$tag-r.ctl" -P "$LAB_DIR/bird-$tag-r.pid"

    head -c $((FILE_MB * 1024 * 1024)) /dev/urandom >"$LAB_DIR/big"
    for i in 1 2; do
        ns=${NS_RS[$((i - 1))]}
        ip -n "$ns" route add default via 10.9.0.1
        nsx "$ns" "$LVS_BIN/lvs-realserver" start "$VIP" >>"$LAB_DIR/lvs-realserver.log" 2>&1
        mkdir -p "$LAB_DIR/ng-$tag-$i/html"
        ln -sf "$LAB_DIR/big" "$LAB_DIR/ng-$tag-$i/html/big"
        echo "rs$i" >"$LAB_DIR/ng-$tag-$i/html/index.html"
        cat >"$LAB_DIR/ng-$tag-$i/nginx.conf" <<NGINX
daemon off; master_process on; worker_processes 1; pid $LAB_DIR/ng-$tag-$i/nginx.pid;
error_log $LAB_DIR/ng-$tag-$i/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $LAB_DIR/ng-$tag-$i/b; proxy_temp_path $LAB_DIR/ng-$tag-$i/p;
  fastcgi_temp_path $LAB_DIR/ng-$tag-$i/f; uwsgi_temp_path $LAB_DIR/ng-$tag-$i/u; scgi_temp_path $LAB_DIR/ng-$tag-$i/s;
  server { listen 80; root $LAB_DIR/ng-$tag-$i/html; } }
NGINX
        lab_spawn "$ns" 0-1 "$LAB_DIR/ng-$tag-$i/out" nginx -c "$LAB_DIR/ng-$tag-$i/nginx.conf"
    done

    for i in 1 2 3; do
        ns=${NS_DIR[$((i - 1))]}
        cat >"$LAB_DIR/keepalived-$tag-d$i.conf" <<CONF
global_defs {
    router_id d$i
    lvs_announce_table 100 bird_socket $LAB_DIR/bird-$tag-d$i.ctl
}
virtual_server $VIP 80 {
    delay_loop 1
    lb_algo mh
    mh-port
    lb_kind DR
    protocol TCP
    real_server 10.9.0.21 80 {
        weight 1
        inhibit_on_failure
        TCP_CHECK { connect_timeout 1 }
    }
    real_server 10.9.0.22 80 {
        weight 1
        inhibit_on_failure
        TCP_CHECK { connect_timeout 1 }
    }
}
CONF
        cat >"$LAB_DIR/bird-$tag-d$i.conf" <<BIRD
router id 10.9.0.1$i;
protocol device {}
protocol kernel { ipv4 { import all; export none; }; kernel table 100; learn; }
$bfd_proto
protocol bgp tor { local 10.9.0.1$i as 65101; neighbor 10.9.0.1 as 65000; hold time 3; connect retry time 1; $bfd_on
  ipv4 { import none; export where net ~ [ 192.0.2.0/24{32,32} ]; next hop self; }; }
BIRD
        lab_spawn "$ns" 0-1 "$LAB_DIR/bird-$tag-d$i.out" bird -f -c "$LAB_DIR/bird-$tag-d$i.conf" \
            -s "$LAB_DIR/bird-$tag-d$i.ctl" -P "$LAB_DIR/bird-$tag-d$i.pid"
        lab_spawn "$ns" 0-1 "$LAB_DIR/lvsd-$tag-d$i.log" env LVSD_SPIN_US="${SPIN_US:-50}" \
            "$LVS_BIN/lvsd" -n -l -f "$LAB_DIR/keepalived-$tag-d$i.conf"
        eval "LVSD_PID_$i=$LAST_PID"
    done
    # sloppy_tcp as an operator's sysctl.conf line would set it (once each lvsd answers).
    for i in 1 2 3; do
        for t in $(seq 100); do
            ip netns exec "${NS_DIR[$((i - 1))]}" "$LVS_BIN/lvs-sysctl" -q -w "net.ipv4.vs.sloppy_tcp=$SLOPPY" 2>/dev/null && break
            sleep 0.1
        done
    done
    local t
    for t in $(seq 150); do
        [ "$(nexthops)" = 3 ] && return 0
        sleep 0.1
    done
    echo "the router did not learn three next hops: $(ip -n "$NS_R" route show "$VIP")" >&2
    return 1
}

# How many next hops the router has for the VIP.
nexthops() {
    local out
    out=$(ip -n "$NS_R" route show "$VIP" 2>/dev/null)
    if [ -z "$out" ]; then echo 0; elif grep -q nexthop <<<"$out"; then grep -c nexthop <<<"$out"; else echo 1; fi
}

# Waits until the router has $1 next hops; prints the milliseconds since $2 (or "timeout").
wait_nexthops() {
    local want=$1 start=$2 limit=$(($(now_ms) + 20000))
    while [ "$(now_ms)" -lt "$limit" ]; do
        if [ "$(nexthops)" = "$want" ]; then echo $(($(now_ms) - start)); return 0; fi
        sleep 0.01
    done
    echo timeout
}

# Starts $DOWNLOADS paced downloads of /big from the client; their results go to $LAB_DIR/dl-*.
start_downloads() {
    local i
    DL_PIDS=()
    for i in $(seq "$DOWNLOADS"); do
        nsx "$NS_C" curl -s -o /dev/null --max-time 120 --limit-rate "$RATE" -w '%{http_code} %{size_download}\n' \
            "http://$VIP/big" >"$LAB_DIR/dl-$i" 2>&1 &
        DL_PIDS+=("$!")
    done
}

# Waits for the downloads (not in a subshell: they are this shell's children); sets RESULT to
# "broken completed".
finish_downloads() {
    local i ok=0 bad=0 want=$((FILE_MB * 1024 * 1024))
    for i in "${!DL_PIDS[@]}"; do
        if wait "${DL_PIDS[$i]}" && [ "$(cat "$LAB_DIR/dl-$((i + 1))")" = "200 $want" ]; then
            ok=$((ok + 1))
        else
            bad=$((bad + 1))
        fi
    done
    RESULT="$bad $ok"
}

# The director (1-3) carrying the most established connections now.
busiest() {
    local i n best=1 bestn=-1
    for i in 1 2 3; do
        n=$(nsx "${NS_DIR[$((i - 1))]}" "$LVS_BIN/ipvsadm" -Lnc 2>/dev/null | grep -c ESTABLISHED || true)
        if [ "$n" -gt "$bestn" ]; then best=$i bestn=$n; fi
    done
    echo "$best $bestn"
}

scenario_kill() {
    so_up kill 0
    start_downloads
    sleep 3
    read -r victim carried < <(busiest)
    local pidvar="LVSD_PID_$victim" t0 ms result
    t0=$(now_ms)
    kill -KILL "${!pidvar}"
    wait "${!pidvar}" 2>/dev/null || true
    ms=$(wait_nexthops 2 "$t0")
    finish_downloads
    result=$RESULT
    echo "| lvsd SIGKILL (keeper withdraws), sloppy_tcp=$SLOPPY | no | $ms | $carried | ${result% *} / $DOWNLOADS |"
    lab_teardown
}

scenario_cut() {
    local bfd=$1
    so_up "cut$bfd" "$bfd"
    start_downloads
    sleep 3
    read -r victim carried < <(busiest)
    local t0 ms result
    t0=$(now_ms)
    ip -n "${NS_DIR[$((victim - 1))]}" link set eth0 down
    ms=$(wait_nexthops 2 "$t0")
    finish_downloads
    result=$RESULT
    local label=no
    [ "$bfd" = 1 ] && label="yes (100 ms x 3)"
    echo "| director link down (machine dies), sloppy_tcp=$SLOPPY | $label | $ms | $carried | ${result% *} / $DOWNLOADS |"
    lab_teardown
}

# lvsd CPU ticks (user+system) of a pid.
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
inpkts() { nsx "$1" "$LVS_BIN/ipvsadm" -Ln --stats | awk '$1 == "TCP" { print $4; exit }'; }

scenario_cpu() {
    SPIN_US=0 so_up cpu 0
    local i t0=() p0=() t1 p1 hz out
    hz=$(getconf CLK_TCK)
    for i in 1 2 3; do
        local pidvar="LVSD_PID_$i"
        t0+=("$(ticks "${!pidvar}")")
        p0+=("$(inpkts "${NS_DIR[$((i - 1))]}")")
    done
    # Keep-alive HTTP through the three directors (DR: requests and ACKs cross a director).
    out=$(nsx "$NS_C" wrk -t2 -c48 -d"${CPU_SECONDS:-10}"s "http://$VIP/")
    CPU_RPS=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    for i in 1 2 3; do
        local pidvar="LVSD_PID_$i"
        t1=$(ticks "${!pidvar}")
        p1=$(inpkts "${NS_DIR[$((i - 1))]}")
        awk -v d="d$i" -v t=$((t1 - t0[i - 1])) -v p=$((p1 - p0[i - 1])) -v hz="$hz" 'BEGIN {
            printf "| %s | %d | %.2f | %.2f |\n", d, p, t / hz, (p > 0 ? t / hz / (p / 1e6) : 0) }'
    done
    echo
    echo "wrk -t2 -c48 -d${CPU_SECONDS:-10}s through the router: $CPU_RPS requests/s"
    lab_teardown
}

lab_init
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(kill cut cpu)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in "${scenarios[@]}"; do
    case $s in
    kill | cut)
        if [ -z "${header:-}" ]; then
            header=1
            echo
            echo "| event | BFD | ms from event to the router's withdrawal | connections the director carried | downloads broken |"
            echo "|---|---|---|---|---|"
        fi
        if [ "$s" = kill ]; then scenario_kill; else scenario_cut 0; scenario_cut 1; fi
        ;;
    cpu)
        echo
        echo "| director | packets in | lvsd CPU s | CPU s per million packets |"
        echo "|---|---|---|---|"
        scenario_cpu
        ;;
    *) echo "unknown scenario $s (kill|cut|cpu)" >&2; exit 2 ;;
    esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
