#!/usr/bin/env bash
# Data-plane pps suite: lossless and overload rates of kernel forwarding, nftables DNAT and SwiftLVS DR/NAT/TUN/FULLNAT.
#
# Run through `scripts/bench dataplane-pps [options]` (builds the tools first). Options:
#   --runs N        repetitions of the whole set of paths (default 1); tables show min / median
#   --seconds S     length of one trial (default 2)
#   --flows N       UDP flows (default 1000: 150 client addresses 10.0.1.101–250 × ports)
#   --size B        frame size without FCS (default 60)
#   --loss F        largest loss fraction still called lossless (default 0.001)
#   --paths LIST    comma list from: kernel,kernel-ct,nft-dnat, lvs-M (AF_PACKET), lvs-afxdp-M (XDP steering +
#                   AF_XDP, fast path off), lvs-xdp-M (XDP fast path) for M in dr,nat,tun,fullnat (default all)
#   --input skb|xdp how frames reach the director (lab.sh): skb (default) = pktgen's socket buffers,
#                   which a veth copies before XDP may run; xdp = xdpgen's XDP frames, as from a NIC
#   --keep          keep the run directory (logs, malloc counters, per-trial log trials.log)
#   --verbose       print every trial (rate, sent, delivered, loss, CPU, lvsd counter changes)
#   --wait-idle S   before each path, wait up to S seconds for a quiet machine (default 300; 0: don't)
#   --idle-max P    "quiet" = neither CPU more than P % busy over 2 s (default 20)
# Environment: PKTGEN, MALLOCCOUNT_SO (built tools), LVS_BIN (dir with lvsd, ipvsadm, lvs-realserver),
#   LVSD_ARGS (extra lvsd flags), LAB_OFFLOADS=on|off.
#
# Each path gets a fresh lab (lab.sh). A trial sends `seconds` of paced frames from the client
# namespace (pktgen on CPU0) and counts rx_packets on r1+r2; lossless = delivered ≥ sent × (1 − loss).
# Per path: a probe (2 000 frames at 20 kpps: is the path forwarding at all?), a 1 s warm-up, one
# unpaced trial (overload: the generator's maximum and what reached the real servers), then a
# bisection over paced rates for the highest lossless one (resolution 2 %).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab.sh"
. "$here/trial.sh"

VERBOSE="" RUNS=1 SECONDS_PER_TRIAL=2 FLOWS=1000 SIZE=60 LOSS=0.001 WAIT_IDLE=300 IDLE_MAX=20
PATHS="kernel,kernel-ct,nft-dnat,lvs-dr,lvs-nat,lvs-tun,lvs-fullnat,lvs-afxdp-dr,lvs-afxdp-nat,lvs-afxdp-tun,lvs-afxdp-fullnat,lvs-xdp-dr,lvs-xdp-nat,lvs-xdp-tun,lvs-xdp-fullnat"
while [ $# -gt 0 ]; do
    case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --seconds) SECONDS_PER_TRIAL=$2; shift 2 ;;
    --flows) FLOWS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --loss) LOSS=$2; shift 2 ;;
    --paths) PATHS=$2; shift 2 ;;
    --keep) LAB_KEEP=1; shift ;;
    --input) LAB_INPUT=$2; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    --wait-idle) WAIT_IDLE=$2; shift 2 ;;
    --idle-max) IDLE_MAX=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then echo "dataplane-pps needs root (network namespaces)" >&2; exit 1; fi
require_commands ip:iproute2 nft:nftables ethtool:ethtool taskset:util-linux bridge:iproute2 od:coreutils || exit 1
[ -x "${PKTGEN:-}" ] || { echo "PKTGEN (the built pktgen) is not set; run through scripts/bench" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then echo "the split layout needs 2 CPUs" >&2; exit 1; fi

lab_init

declare -A RES_WIDLE RES_WEXCESS RES_MIDLE RES_MEXCESS RES_LOSSLESS RES_OVER RES_GEN RES_CPU1L RES_CPU1O RES_ALL1L RES_NOTE RES_MALLOC RES_SKIP

measure_path() {
    local path=$1 run=$2 key="$1#$2"
    CURRENT_PATH=$path LVSD_STATS="" LAST_STATS=""
    BACKGROUND=""
    if [ "$WAIT_IDLE" -gt 0 ] && ! wait_idle "$WAIT_IDLE" "$IDLE_MAX"; then
        RES_NOTE[$key]="machine busy before the run (CPU0/CPU1 $BACKGROUND)"
    fi
    lab_up "p$run-${path}"
    SKIP_REASON=""
    if ! setup_path "$path"; then
        RES_SKIP[$key]="not available yet: $SKIP_REASON"
        lab_teardown
        return
    fi
    lab_threaded_napi
    # Probe: does this path forward at all?
    trial 20000 0.1
    if [ "$T_DELIV" -lt $((T_SENT * 9 / 10)) ]; then
        if [[ $path == lvs-* ]]; then
            RES_SKIP[$key]="not available yet: lvsd delivered $T_DELIV of $T_SENT probe frames"
        else
            RES_SKIP[$key]="BROKEN: delivered $T_DELIV of $T_SENT probe frames"
        fi
        lab_teardown
        return
    fi
    # lvsd's allocations: a 2 s idle window first (timers, statistics publishing: a rate per
    # second), then everything from the warm-up to the last trial, per packet delivered.
    # The same for the packet workers alone (lvsd-dp* threads, against their own idle rate).
    local m0="" mi="" t0 t1 w0="" wi=""
    if [[ $path == lvs-* ]]; then
        mi=$(read_malloc_counts "$LVSD_COUNTS")
        wi=$(worker_mallocs "$mi")
        sleep 2
        m0=$(read_malloc_counts "$LVSD_COUNTS")
        w0=$(worker_mallocs "$m0")
        RES_MIDLE[$key]=$(awk -v a="${mi%% *}" -v b="${m0%% *}" 'BEGIN { printf "%.1f", (b - a) / 2 }')
        RES_WIDLE[$key]=$(awk -v a="$wi" -v b="$w0" 'BEGIN { printf "%.1f", (b - a) / 2 }')
    fi
    t0=$(date +%s.%N)
    local d_total=0
    trial 100000 1
    d_total=$((d_total + T_DELIV))
    find_lossless "$SECONDS_PER_TRIAL"
    d_total=$((d_total + FL_DELIVERED))
    local gen=$FL_GEN over=$FL_OVER cpu1o=$FL_CPU1O best=$FL_BEST cpu1l=$FL_CPU1L all1l=$FL_ALL1L
    [ -n "$FL_NOTE" ] && RES_NOTE[$key]=$FL_NOTE
    RES_LOSSLESS[$key]=$best RES_OVER[$key]=$over RES_GEN[$key]=$gen RES_CPU1L[$key]=${cpu1l:--} RES_CPU1O[$key]=$cpu1o RES_ALL1L[$key]=${all1l:--}
    if [ -n "$PATH_NOTE" ]; then RES_NOTE[$key]="${RES_NOTE[$key]:+${RES_NOTE[$key]}; }$PATH_NOTE"; fi
    if [[ $path == lvs-* ]]; then
        local m1 w1
        m1=$(read_malloc_counts "$LVSD_COUNTS")
        w1=$(worker_mallocs "$m1")
        t1=$(date +%s.%N)
        RES_WEXCESS[$key]=$(awk -v a="$w0" -v b="$w1" -v r="${RES_WIDLE[$key]}" -v t0="$t0" -v t1="$t1" \
            -v n="$d_total" 'BEGIN { printf "%.1f", ((b - a) - r * (t1 - t0)) * 1e6 / n }')
        RES_MALLOC[$key]="$(malloc_summary "$m0" "$m1" "$d_total")"
        RES_MEXCESS[$key]=$(awk -v a="${m0%% *}" -v b="${m1%% *}" -v r="${RES_MIDLE[$key]}" -v t0="$t0" -v t1="$t1" \
            -v n="$d_total" 'BEGIN { e = (b - a) - r * (t1 - t0); if (e < 0) e = 0; printf "%.1f", e * 1e6 / n }')
    fi
    lab_teardown
    # lvsd writes its final counters when it stops: frames per batch, ring and transmit losses
    # (and, from lvsd-bench only, allocations made inside batches).
    if [[ $path == lvs-* ]] && [ -s "$LVSD_STATS" ]; then
        RES_NOTE[$key]="${RES_NOTE[$key]:+${RES_NOTE[$key]}; }lvsd: $(awk -v bench="$([ "${LVSD_PROGRAM:-}" = lvsd-bench ] && echo 1)" '{ v[$1] = $2 } END {
            printf "%.1f frames/batch, ring_drops %d, transmit_failed %d, no_neighbor %d",
                v["received"] / (v["batches"] + 0.0001), v["ring_drops"], v["transmit_failed"], v["no_neighbor"]
            if (bench && "mallocs_per_million_packets" in v)
                printf ", in-batch mallocs (its own counter) %d = %s per 1M received", v["mallocs"], v["mallocs_per_million_packets"] }' "$LVSD_STATS")"
    fi
}

# Allocations of lvsd's packet workers (threads named lvsd-dp*) in a read_malloc_counts output.
worker_mallocs() {
    local pair sum=0
    for pair in $1; do
        case $pair in *:*)
            case $(cat "/proc/$LVSD_PID/task/${pair%%:*}/comm" 2>/dev/null) in lvsd-dp*) sum=$((sum + ${pair#*:})) ;; esac ;;
        esac
    done
    echo "$sum"
}

# Mallocs per million delivered packets between two read_malloc_counts outputs, total and by thread.
malloc_summary() {
    local m0=$1 m1=$2 n=$3
    if [ "$m0" = - ] || [ "$m1" = - ]; then echo "no counter file"; return; fi
    local comm_map="" pair tid
    for pair in $m1; do
        case $pair in *:*) tid=${pair%%:*}
            comm_map+="$tid=$(cat "/proc/$LVSD_PID/task/$tid/comm" 2>/dev/null | tr ' ' '_' || echo exited)#$tid " ;;
        esac
    done
    awk -v a="$m0" -v b="$m1" -v n="$n" -v names="$comm_map" 'BEGIN {
        split(a, A, " "); split(b, B, " "); split(names, N, " ")
        for (i in N) { split(N[i], kv, "="); name[kv[1]] = kv[2] }
        for (i = 2; i in A; i++) { split(A[i], kv, ":"); before[kv[1]] = kv[2] }
        out = sprintf("%.1f", (B[1] - A[1]) * 1e6 / n)
        for (i = 2; i in B; i++) { split(B[i], kv, ":"); d = kv[2] - before[kv[1]]
            if (d > 0) out = out sprintf(" [%s %.1f]", (kv[1] in name ? name[kv[1]] : kv[1]), d * 1e6 / n) }
        print out }'
}

# The mallocs cell: the workers' (lvsd-dp*) per million packets beyond their own idle rate, then the
# process's per million packets beyond its idle rate (total per million; idle per second; by thread).
malloc_cell() {
    if [ "${RES_MALLOC[$1]%% *}" = 0.0 ] && [ "${RES_MIDLE[$1]}" = 0.0 ]; then
        # A binary that defines malloc itself (lvsd-bench links CMallocCounter) wins over LD_PRELOAD.
        echo "not seen by malloccount.so (the binary interposes malloc itself)"
        return
    fi
    echo "workers ${RES_WEXCESS[$1]} beyond their idle (${RES_WIDLE[$1]}/s idle); process ${RES_MEXCESS[$1]} beyond idle (total ${RES_MALLOC[$1]%% *} per 1M; ${RES_MIDLE[$1]}/s idle; by thread: ${RES_MALLOC[$1]#* })"
}


# min / median / max of the numeric arguments (one value when there is one run).
minmed() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
        if (NR == 1) { printf "%.0f k\n", v[1] / 1000; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.0f / %.0f / %.0f k\n", v[1] / 1000, m / 1000, v[NR] / 1000 }'
}

IFS=, read -r -a path_list <<<"$PATHS"
echo "dataplane-pps: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)" >&2
echo "flows=$FLOWS size=$SIZE trial=${SECONDS_PER_TRIAL}s loss≤$LOSS runs=$RUNS offloads=$LAB_OFFLOADS input=$LAB_INPUT" >&2
for run in $(seq "$RUNS"); do
    for p in "${path_list[@]}"; do
        echo "run $run: $p …" >&2
        measure_path "$p" "$run"
        key="$p#$run"
        if [ -n "${RES_SKIP[$key]:-}" ]; then
            echo "  ${RES_SKIP[$key]}" >&2
        else
            echo "  lossless $(kpps "${RES_LOSSLESS[$key]}")pps (director on CPU1 ${RES_CPU1L[$key]} %, CPU1 all ${RES_ALL1L[$key]} %), overload: offered $(kpps "${RES_GEN[$key]}")pps delivered $(kpps "${RES_OVER[$key]}")pps (director (all) on CPU1 ${RES_CPU1O[$key]} %) ${RES_NOTE[$key]:-} ${RES_MALLOC[$key]:+mallocs: $(malloc_cell "$key")}" >&2
        fi
    done
done

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# pps a whole CPU1 would carry at the lossless rate's cost: lossless ÷ the director's share of CPU1
# (softirq + director processes). An estimate: per-packet cost is not constant (fewer wake-ups and
# IPIs happen under load), and a busy-polling director shows 100 % at any rate.
capacity() { awk -v r="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.0f", r * 100 / b; else print 0 }'; }
# CPU-seconds the director spent per million packets at the lossless rate: share of CPU1 ÷ Mpps.
cpu_per_million() { awk -v b="$1" -v r="$2" 'BEGIN { if (r > 0 && b != "-") printf "%.2f", (b / 100) / (r / 1e6); else print "-" }'; }
ratio() { awk -v a="$1" -v k="$2" 'BEGIN { if (k > 0) printf "%.2f", a / k; else print "-" }'; }

# The kernel's figures in this run are the denominators of every ratio.
kernel_ll=() kernel_cap=()
for run in $(seq "$RUNS"); do
    if [ -n "${RES_LOSSLESS[kernel#$run]:-}" ]; then
        kernel_ll+=("${RES_LOSSLESS[kernel#$run]}")
        kernel_cap+=("$(capacity "${RES_LOSSLESS[kernel#$run]}" "${RES_CPU1L[kernel#$run]}")")
    fi
done
K_LOSSLESS=$(median "${kernel_ll[@]:-}")
K_CAP=$(median "${kernel_cap[@]:-}")

echo
echo "| path | lossless pps (min / median / max) | × kernel | director CPU1 % at lossless, exact (tick-sampled CPU1 %) | director CPU-s per 1M packets | est. pps per director core | × kernel | overload: offered → delivered (median) | lvsd mallocs per 1M packets | notes |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for p in "${path_list[@]}"; do
    ll=() ov=() gen=() c1=() a1=() cap=() mal="" note="" skip=""
    for run in $(seq "$RUNS"); do
        key="$p#$run"
        if [ -n "${RES_SKIP[$key]:-}" ]; then skip=${RES_SKIP[$key]}; continue; fi
        ll+=("${RES_LOSSLESS[$key]}") ov+=("${RES_OVER[$key]}") gen+=("${RES_GEN[$key]}")
        c1+=("${RES_CPU1L[$key]}") a1+=("${RES_ALL1L[$key]}")
        cap+=("$(capacity "${RES_LOSSLESS[$key]}" "${RES_CPU1L[$key]}")")
        [ -n "${RES_MALLOC[$key]:-}" ] && mal=$(malloc_cell "$key")
        note=${RES_NOTE[$key]:-}
    done
    if [ ${#ll[@]} -eq 0 ]; then
        echo "| $(label "$p") | $skip | | | | | | | | |"
        continue
    fi
    echo "| $(label "$p") | $(minmed "${ll[@]}") | $(ratio "$(median "${ll[@]}")" "$K_LOSSLESS") |" \
        "$(median "${c1[@]}") ($(median "${a1[@]}")) | $(cpu_per_million "$(median "${c1[@]}")" "$(median "${ll[@]}")") |" \
        "$(kpps "$(median "${cap[@]}")") | $(ratio "$(median "${cap[@]}")" "$K_CAP") |" \
        "$(kpps "$(median "${gen[@]}")") → $(kpps "$(median "${ov[@]}")") | ${mal:-n/a (kernel)} | $note |"
done
