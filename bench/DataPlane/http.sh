#!/usr/bin/env bash
# Data-plane HTTP suite: wrk keep-alive and Connection: close through direct, nftables DNAT, HAProxy, nginx stream, SwiftLVS NAT/DR.
#
# Run through `scripts/bench dataplane-http [options]`. Options:
#   --runs N        repetitions (default 1); tables show min–max
#   --duration S    wrk duration in seconds (default 10)
#   --conns N       wrk connections (default 50; one wrk thread)
#   --paths LIST    comma list from: direct,nft-dnat,haproxy,nginx-stream,lvs-nat,lvs-dr (AF_PACKET),
#                   lvs-xdp-nat,lvs-xdp-dr (XDP fast path), lvs-fwm-nat, lvs-xdp-fwm-nat (a firewall-mark
#                   NAT service, port 80 marked in the director's mangle prerouting; not in the default list)
#                   (default: all but the firewall-mark paths)
#   --keep          keep the run directory (configs, logs)
#   --wait-idle S   before each measurement, wait up to S seconds for a quiet machine (default 300; 0: don't)
#   --idle-max P    "quiet" = neither CPU more than P % busy over 2 s (default 20)
#
# Every (path, mode, run) gets a fresh lab (lab.sh), so no TIME_WAIT/PAWS state carries from one
# measurement to the next (machine-limits.md pitfall 8). Layout: CPU0 = wrk + both real servers
# (nginx, 1 worker each, 3-byte file), CPU1 = the director (kernel softirq work through RPS, and the
# balancer process pinned with taskset -c 1). A curl through the path must return the file before
# wrk runs; a path that cannot is reported, not measured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab.sh"

RUNS=1 DURATION=10 CONNS=50 WAIT_IDLE=300 IDLE_MAX=20
PATHS="direct,nft-dnat,haproxy,nginx-stream,lvs-nat,lvs-dr,lvs-xdp-nat,lvs-xdp-dr"
while [ $# -gt 0 ]; do
    case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --paths) PATHS=$2; shift 2 ;;
    --keep) LAB_KEEP=1; shift ;;
    --wait-idle) WAIT_IDLE=$2; shift 2 ;;
    --idle-max) IDLE_MAX=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then echo "dataplane-http needs root (network namespaces)" >&2; exit 1; fi
require_commands ip:iproute2 nft:nftables ethtool:ethtool taskset:util-linux bridge:iproute2 \
    wrk:wrk nginx:nginx-light curl:curl || exit 1
NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
IFS=, read -r -a path_list <<<"$PATHS"
for p in "${path_list[@]}"; do
    case $p in
    haproxy) require_commands haproxy:haproxy || exit 1 ;;
    nginx-stream) [ -f "$NGINX_STREAM_MODULE" ] || {
        echo "missing $NGINX_STREAM_MODULE: apt-get install -y libnginx-mod-stream" >&2
        exit 1
    } ;;
    esac
done

lab_init

start_haproxy() {
    local dir="$LAB_DIR/haproxy"
    mkdir -p "$dir"
    cat >"$dir/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 9000
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend vip
    bind $VIP:80
    default_backend rs
backend rs
    balance roundrobin
    server rs1 $RS1:80
    server rs2 $RS2:80
EOF
    lab_spawn "$NS_D" 1 "$dir/haproxy.log" haproxy -db -f "$dir/haproxy.cfg"
}

start_nginx_stream() {
    local dir="$LAB_DIR/nginx-stream"
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
load_module $NGINX_STREAM_MODULE;
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 9000; }
stream {
    upstream rs { server $RS1:80; server $RS2:80; }
    server { listen $VIP:80 backlog=4096; proxy_pass rs; }
}
EOF
    lab_spawn "$NS_D" 1 "$dir/stdout.log" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
}

# Sets up path $1 in the current lab; sets URL. Returns 1 with SKIP_REASON when unavailable.
setup_path() {
    URL="http://$VIP/f"
    case $1 in
    direct) URL="http://$RS1/f" ;;
    nft-dnat) setup_nft_dnat tcp 80 ;;
    haproxy) start_haproxy ;;
    nginx-stream) start_nginx_stream ;;
    lvs-nat | lvs-dr | lvs-xdp-nat | lvs-xdp-dr)
        if [ ! -x "${LVS_BIN:-}/lvsd" ] || [ ! -x "$LVS_BIN/ipvsadm" ]; then
            SKIP_REASON="lvsd/ipvsadm not built"
            return 1
        fi
        local m=${1#lvs-} mode=af-packet
        case $m in xdp-*) m=${m#xdp-}; mode=xdp ;; esac
        if [ "$m" = dr ]; then
            lab_direct_return
            rs_vip_on_lo "$NS_R1"
            rs_vip_on_lo "$NS_R2"
        fi
        LVSD_ARGS="--data-plane $mode ${LVSD_EXTRA_ARGS:-}" start_lvsd "$1" || return 1
        setup_lvs_service "$m" -t 80 || return 1
        ;;
    lvs-fwm-nat | lvs-xdp-fwm-nat)
        if [ ! -x "${LVS_BIN:-}/lvsd" ] || [ ! -x "$LVS_BIN/ipvsadm" ]; then
            SKIP_REASON="lvsd/ipvsadm not built"
            return 1
        fi
        local mode=af-packet
        [ "$1" = lvs-xdp-fwm-nat ] && mode=xdp
        LVSD_ARGS="--data-plane $mode ${LVSD_EXTRA_ARGS:-}" start_lvsd "$1" || return 1
        # As the tutorials mark (iptables -t mangle … -j MARK --set-mark 1), in nft's words.
        printf 'table ip mangle {\n chain prerouting {\n  type filter hook prerouting priority mangle; policy accept;\n  ip daddr %s tcp dport 80 meta mark set 1\n }\n}\n' "$VIP" |
            nsx "$NS_D" nft -f - || { SKIP_REASON="nft mangle rule refused"; return 1; }
        ipvsadm_d -A -f 1 -s rr || return 1
        ipvsadm_d -a -f 1 -r "$RS1" -m -w 1 || return 1
        ipvsadm_d -a -f 1 -r "$RS2" -m -w 1 || return 1
        ;;
    *) echo "unknown path $1" >&2; exit 2 ;;
    esac
}

# The path works when curl through it gets the file (a few tries while the servers start).
path_works() {
    local i got
    for i in $(seq 20); do
        got=$(nsx "$NS_C" curl -s -m 1 "$URL" 2>/dev/null || true)
        [ "$got" = ok ] && return 0
        sleep 0.2
    done
    return 1
}

declare -A RES RES_CPU RES_ERR RES_SKIP RES_BUSY

measure() {
    local path=$1 mode=$2 run=$3 key="$1#$2#$3"
    BACKGROUND=""
    RES_BUSY[$key]=""
    if [ "$WAIT_IDLE" -gt 0 ] && ! wait_idle "$WAIT_IDLE" "$IDLE_MAX"; then
        RES_BUSY[$key]="machine busy before the run (CPU0/CPU1 $BACKGROUND); "
    fi
    lab_up "h$run-$path-$mode"
    start_rs_nginx "$NS_R1" "rs1-$path-$mode-$run"
    start_rs_nginx "$NS_R2" "rs2-$path-$mode-$run"
    SKIP_REASON=""
    if ! setup_path "$path"; then
        RES_SKIP[$key]="not available yet: $SKIP_REASON"
        lab_teardown
        return
    fi
    lab_threaded_napi
    if ! path_works; then
        if [[ $path == lvs-* ]]; then
            RES_SKIP[$key]="not available yet: curl through lvsd got no answer"
        else
            RES_SKIP[$key]="BROKEN: curl $URL got no answer"
        fi
        lab_teardown
        return
    fi
    local hdr=() s0 s1 out
    [ "$mode" = close ] && hdr=(-H "Connection: close")
    s0=$(cpu_sample)
    out=$(taskset -c 0 ip netns exec "$NS_C" wrk -t1 -c"$CONNS" -d"${DURATION}s" "${hdr[@]+"${hdr[@]}"}" "$URL" 2>&1)
    s1=$(cpu_sample)
    echo "$out" >"$LAB_DIR/wrk-$key.txt"
    RES[$key]=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    RES_CPU[$key]=$(cpu_busy "$s0" "$s1" | awk '{ print $3 " (" $2 ")" }')
    RES_ERR[$key]=$(echo "$out" | awk '/Socket errors|Non-2xx/ { sub(/^ +/, ""); printf "%s; ", $0 }')
    lab_teardown
}

label() {
    case $1 in
    direct) echo "direct to one RS (kernel routing through the director)" ;;
    nft-dnat) echo "nftables DNAT (numgen inc mod 2)" ;;
    haproxy) echo "HAProxy $(haproxy -v | awk 'NR == 1 { print $3 }') mode tcp, 1 thread" ;;
    nginx-stream) echo "nginx $(nginx -v 2>&1 | sed 's|.*/||') stream, 1 worker" ;;
    lvs-nat) echo "SwiftLVS NAT (-m)" ;;
    lvs-dr) echo "SwiftLVS DR (-g; replies return RS → client directly)" ;;
    lvs-xdp-nat) echo "SwiftLVS NAT (-m), XDP fast path" ;;
    lvs-xdp-dr) echo "SwiftLVS DR (-g), XDP fast path" ;;
    lvs-fwm-nat) echo "SwiftLVS NAT, firewall-mark service (-f 1), AF_PACKET" ;;
    lvs-xdp-fwm-nat) echo "SwiftLVS NAT, firewall-mark service (-f 1), XDP mode" ;;
    esac
}

echo "dataplane-http: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)" >&2
echo "wrk -t1 -c$CONNS -d${DURATION}s, runs=$RUNS, offloads=$LAB_OFFLOADS" >&2
for run in $(seq "$RUNS"); do
    for p in "${path_list[@]}"; do
        for mode in keepalive close; do
            echo "run $run: $p $mode …" >&2
            measure "$p" "$mode" "$run"
            key="$p#$mode#$run"
            if [ -n "${RES_SKIP[$key]:-}" ]; then
                echo "  ${RES_SKIP[$key]}" >&2
            else
                echo "  ${RES[$key]} req/s, director CPU1 % (CPU1 all %): ${RES_CPU[$key]} ${RES_ERR[$key]}" >&2
            fi
        done
    done
done

# "min–max" (or the single value) of the numeric arguments, in k.
span() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR == 1 || v[1] == v[NR]) printf "%.1f k\n", v[1] / 1000; else printf "%.1f–%.1f k\n", v[1] / 1000, v[NR] / 1000 }'
}

echo
echo "| path | keep-alive req/s | director CPU1 % (CPU1 all %) | Connection: close req/s | director CPU1 % (CPU1 all %) | errors, notes |"
echo "|---|---|---|---|---|---|"
for p in "${path_list[@]}"; do
    row="| $(label "$p") |"
    errs=""
    for mode in keepalive close; do
        vals=() cpus=() skip=""
        for run in $(seq "$RUNS"); do
            key="$p#$mode#$run"
            if [ -n "${RES_SKIP[$key]:-}" ]; then skip=${RES_SKIP[$key]}; continue; fi
            [ -n "${RES[$key]}" ] && vals+=("${RES[$key]}") && cpus+=("${RES_CPU[$key]}")
            errs+=${RES_ERR[$key]}${RES_BUSY[$key]}
        done
        if [ ${#vals[@]} -eq 0 ]; then
            row+=" ${skip:-no result} | |"
        else
            row+=" $(span "${vals[@]}") | $(printf '%s\n' "${cpus[@]}" | sort -n | sed -n '1p;$p' | uniq | paste -sd/ -) |"
        fi
    done
    echo "$row ${errs:-none} |"
done
