#!/usr/bin/env bash
# SYN flood suite (issues 14, 12): a spoofed SYN flood against a NAT service while real clients make
# short and keep-alive HTTP requests, through nftables DNAT and SwiftLVS NAT (AF_PACKET, --synproxy,
# AF_XDP workers, XDP fast path), with lvsd's overload shedding counted.
#
# Run through `scripts/bench dataplane-synflood [options]`. Options:
#   --seconds S     flood and measurement length (default 60)
#   --rates LIST    flood rates in packets/s, 0 = the generator's maximum (default 100000,0)
#   --paths LIST    comma list from: nft-dnat, lvs-nat (--data-plane af-packet), lvs-synproxy
#                   (af-packet, -E --synproxy), lvs-afxdp-nat (--data-plane xdp, LVSD_FAST_PATH=0:
#                   every packet through the AF_XDP worker), lvs-xdp-nat (--data-plane xdp, fast
#                   path on) (default all)
#   --conns N       wrk connections per client kind (default 20)
#   --keep          keep the run directory
# Frames reach the director as the generator's socket buffers only (lab.sh LAB_INPUT=skb): pktgen
# --syn moves its ports every round, which xdpgen (--input xdp) cannot.
#
# Per (path, rate), in a fresh lab (lab.sh): nginx on both real servers; the balancer; threaded
# NAPI pinned per side (lab_threaded_napi, after the balancer: an XDP program gives d0-d2 NAPI);
# a curl check; then at once, for S seconds: pktgen --syn from the client namespace (sources
# 10.9.0.0/16, every SYN a new 4-tuple; the director routes 10.9/16 back to the client, which drops
# the answers), wrk keep-alive and wrk `Connection: close` (one thread each, --latency). Sampled
# every 5 s: the balancer's connection count (lvsd: lvs-sysctl net.ipv4.vs.lvsd_conn_count;
# nftables: nf_conntrack_count) and lvsd's RSS. Reported per row:
#   - the SYNs per second the generator sent; requests, errors (connect/read/write/timeout and
#     non-2xx) and latency (avg, p99) of both wrk clients; table size (max); lvsd RSS (max);
#   - lvsd CPU (% of one core); the director's CPU1 % (tick-sampled: softirqs on CPU1, the
#     director namespace's processes, its NAPI threads);
#   - lvsd's shedding, from its statistics file (LVSD_STATS_FILE, rewritten every second) read
#     1.1 s after the flood: overload_shed (packets that would have opened a connection, refused by
#     a worker that was behind), overload_episodes (times a worker fell behind), xdp_shed_new (SYNs
#     the XDP program dropped meanwhile; "-" without XDP), (overload_shed + xdp_shed_new) as a
#     share of the SYNs sent, and ring_drops (frames lost at lvsd's full receive ring).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab.sh"

SECONDS_RUN=60 RATES="100000,0" PATHS="nft-dnat,lvs-nat,lvs-synproxy,lvs-afxdp-nat,lvs-xdp-nat" CONNS=20
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --rates) RATES=$2; shift 2 ;;
    --paths) PATHS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --keep) LAB_KEEP=1; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then echo "dataplane-synflood needs root (network namespaces)" >&2; exit 1; fi
require_commands ip:iproute2 nft:nftables ethtool:ethtool taskset:util-linux bridge:iproute2 \
    wrk:wrk nginx:nginx-light curl:curl || exit 1
[ -x "${PKTGEN:-}" ] || { echo "PKTGEN not built (run through scripts/bench)" >&2; exit 1; }
IFS=, read -r -a path_list <<<"$PATHS"
IFS=, read -r -a rate_list <<<"$RATES"
lab_init

# Sets up path $1 in the current lab; $2 names lvsd's files (one set per path and rate).
# Returns 1 with SKIP_REASON when the path cannot run.
setup_path() {
    case $1 in
    nft-dnat) setup_nft_dnat tcp 80 ;;
    lvs-nat | lvs-synproxy | lvs-afxdp-nat | lvs-xdp-nat)
        if [ ! -x "${LVS_BIN:-}/lvsd" ] || [ ! -x "$LVS_BIN/ipvsadm" ]; then
            SKIP_REASON="lvsd/ipvsadm not built"
            return 1
        fi
        local mode=af-packet fast=1
        case $1 in
        lvs-xdp-*) mode=xdp ;;
        lvs-afxdp-*) mode=xdp fast=0 ;;
        esac
        LVSD_ARGS="--data-plane $mode ${LVSD_EXTRA_ARGS:-}" LVSD_FAST_PATH=$fast start_lvsd "$2" || return 1
        setup_lvs_service nat -t 80 || return 1
        if [ "$1" = lvs-synproxy ]; then ipvsadm_d -E -t "$VIP:80" -s rr --synproxy || return 1; fi
        ;;
    *) echo "unknown path $1" >&2; exit 2 ;;
    esac
}

path_works() {
    local i got
    for i in $(seq 20); do
        got=$(nsx "$NS_C" curl -s -m 1 "http://$VIP/f" 2>/dev/null || true)
        [ "$got" = ok ] && return 0
        sleep 0.2
    done
    return 1
}

table_size() {
    case $1 in
    nft-dnat) nsx "$NS_D" cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0 ;;
    *) nsx "$NS_D" "$LVS_BIN/lvs-sysctl" -n net.ipv4.vs.lvsd_conn_count 2>/dev/null || echo 0 ;;
    esac
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# wrk's output → "requests errors avg_ms p99_ms"
wrk_summary() {
    awk '
        /requests in/ { req = $1 }
        /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
        /Non-2xx/ { e += $5 }
        /^    Latency/ { avg = $2 }
        /^     99%/ { p99 = $2 }
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        END { printf "%s %d %.2f %.2f\n", req, e, ms(avg), ms(p99) }'
}

# lvsd's shedding from its statistics file $1, against the SYNs sent ($2) → "shed episodes xdp_shed
# share ring_drops" ("-" for a counter the file does not have: xdp_shed_new without XDP).
shed_summary() {
    if [ ! -s "$1" ]; then
        echo "- - - - -"
        return
    fi
    awk -v sent="$2" '{ v[$1] = $2 } END {
        s = v["overload_shed"] + 0; x = ("xdp_shed_new" in v) ? v["xdp_shed_new"] : "-"
        share = (sent > 0) ? sprintf("%.1f", 100 * (s + x) / sent) : "-"
        printf "%d %d %s %s %d\n", s, v["overload_episodes"], x, share, v["ring_drops"] }' "$1"
}

declare -A OUT

measure() {
    local path=$1 rate=$2 key="$1#$2" tag
    tag="sf-$path-$rate"
    lab_up "${tag:0:20}"
    start_rs_nginx "$NS_R1" "rs1-$tag"
    start_rs_nginx "$NS_R2" "rs2-$tag"
    # Answers to the spoofed sources go back towards the client, which drops them.
    ip -n "$NS_D" route add 10.9.0.0/16 via 10.0.1.2
    SKIP_REASON="" LVSD_PID="" LVSD_STATS=""
    if ! setup_path "$path" "$path-$rate"; then
        OUT[$key]="| $path | $rate | not measured: $SKIP_REASON |||||||||||"
        lab_teardown
        return
    fi
    lab_threaded_napi
    if ! path_works; then
        OUT[$key]="| $path | $rate | not measured: curl through the path got no answer |||||||||||"
        lab_teardown
        return
    fi
    local s0 s1 c0=0 c1=0 maxtab=0 maxrss=0 t n
    s0=$(cpu_sample)
    [ -n "${LVSD_PID:-}" ] && [[ $path == lvs-* ]] && c0=$(cpu_ticks "$LVSD_PID")
    lab_spawn "$NS_C" 0 "$LAB_DIR/pktgen-$key.txt" "$PKTGEN" -i c0 -s "$MAC_C0" -d "$MAC_D0" \
        --src 10.9.0.1,60000 --dst "$VIP" --dport 80 --flows 60000 --rate "$rate" --seconds "$SECONDS_RUN" --syn
    local gen=$LAST_PID
    taskset -c 0 ip netns exec "$NS_C" wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency "http://$VIP/f" \
        >"$LAB_DIR/wrk-ka-$key.txt" 2>&1 &
    local w1=$!
    taskset -c 0 ip netns exec "$NS_C" wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -H "Connection: close" \
        "http://$VIP/f" >"$LAB_DIR/wrk-close-$key.txt" 2>&1 &
    local w2=$!
    for t in $(seq $((SECONDS_RUN / 5))); do
        sleep 5
        n=$(table_size "$path")
        [ "${n:-0}" -gt "$maxtab" ] && maxtab=$n
        if [[ $path == lvs-* ]]; then
            n=$(rss_kb "$LVSD_PID")
            [ "${n:-0}" -gt "$maxrss" ] && maxrss=$n
        fi
    done
    wait "$w1" "$w2" || true
    wait "$gen" 2>/dev/null || true
    s1=$(cpu_sample)
    [[ $path == lvs-* ]] && c1=$(cpu_ticks "$LVSD_PID")
    local ka cl sent total lvsd_cpu dir_cpu hz shed=""
    # The statistics file is rewritten every second: 1.1 s after the flood it holds its last count.
    if [[ $path == lvs-* ]]; then
        sleep 1.1
        shed=$LVSD_STATS
    fi
    hz=$(getconf CLK_TCK)
    ka=$(wrk_summary <"$LAB_DIR/wrk-ka-$key.txt")
    cl=$(wrk_summary <"$LAB_DIR/wrk-close-$key.txt")
    sent=$(sed -n 's/.*sent=\([0-9]*\) seconds=\([0-9.]*\) rate=\([0-9]*\).*/\3/p' "$LAB_DIR/pktgen-$key.txt")
    total=$(sed -n 's/.*sent=\([0-9]*\) .*/\1/p' "$LAB_DIR/pktgen-$key.txt")
    lvsd_cpu="-"
    [[ $path == lvs-* ]] && lvsd_cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$SECONDS_RUN" \
        'BEGIN { printf "%.0f", (b - a) / hz / s * 100 }')
    dir_cpu=$(cpu_busy "$s0" "$s1" | awk '{ print $3 }')
    read -r ka_req ka_err ka_avg ka_p99 <<<"$ka"
    read -r cl_req cl_err cl_avg cl_p99 <<<"$cl"
    local rss="-" shed_cells="- | - | -"
    if [[ $path == lvs-* ]]; then
        rss="$((maxrss / 1024)) MiB"
        read -r sh_n sh_ep sh_x sh_pct sh_ring <<<"$(shed_summary "$shed" "${total:-0}")"
        shed_cells="$sh_n / $sh_ep / $sh_x | $sh_pct | $sh_ring"
    fi
    OUT[$key]="| $path | ${rate/#0/max} (sent ${sent:-?}/s) | $ka_req / $ka_err | $ka_avg / $ka_p99 | $cl_req / $cl_err | $cl_avg / $cl_p99 | $maxtab | $rss | $lvsd_cpu | $dir_cpu | $shed_cells |"
    echo "  ${OUT[$key]}" >&2
    lab_teardown
}

echo "dataplane-synflood: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)" >&2
echo "flood ${SECONDS_RUN}s at ${RATES} pps; wrk -t1 -c$CONNS keep-alive and Connection: close at once" >&2
for rate in "${rate_list[@]}"; do
    for p in "${path_list[@]}"; do
        echo "$p at $rate pps …" >&2
        measure "$p" "$rate"
    done
done
echo
echo "| path | flood pps (generator's rate) | keep-alive requests / errors | keep-alive latency avg / p99 ms | close requests / errors | close latency avg / p99 ms | table max | lvsd RSS max | lvsd CPU % | director CPU1 % | lvsd overload_shed / overload_episodes / xdp_shed_new | shed % of SYNs sent | lvsd ring_drops |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for rate in "${rate_list[@]}"; do
    for p in "${path_list[@]}"; do echo "${OUT[$p#$rate]}"; done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
