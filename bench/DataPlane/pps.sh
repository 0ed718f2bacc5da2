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

rx_rs() {
    echo $(($(nsx "$NS_R1" cat /sys/class/net/r1/statistics/rx_packets) + $(nsx "$NS_R2" cat /sys/class/net/r2/statistics/rx_packets)))
}

# One trial: trial RATE SECONDS (rate 0 = unpaced). Sets T_SENT T_DELIV T_RATE T_DRATE T_CPU0 T_CPU1 T_DIR.
trial() {
    local rate=$1 secs=$2 before after s0 s1 out
    before=$(rx_rs)
    s0=$(cpu_sample)
    out=$(taskset -c 0 ip netns exec "$NS_C" "$PKTGEN" -i c0 -s "$MAC_C0" -d "$MAC_D0" --src 10.0.1.101,150 \
        --dst "$GEN_DST" --dport "$GEN_DPORT" --flows "$FLOWS" --size "$SIZE" --rate "$rate" --seconds "$secs")
    s1=$(cpu_sample)
    sleep 0.3
    after=$(rx_rs)
    T_SENT=$(echo "$out" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')
    local elapsed
    elapsed=$(echo "$out" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
    T_DELIV=$((after - before))
    T_RATE=$(awk -v n="$T_SENT" -v s="$elapsed" 'BEGIN { printf "%.0f", n / s }')
    T_DRATE=$(awk -v n="$T_DELIV" -v s="$elapsed" 'BEGIN { printf "%.0f", n / s }')
    read -r T_CPU0 T_CPU1 T_DIR < <(cpu_busy "$s0" "$s1")
    # Per-trial log (kept with --keep, shown with --verbose); for lvsd, the change of its own
    # counters across the trial (its statistics file is rewritten every second).
    local extra=""
    if [ -n "${LVSD_STATS:-}" ] && [ -s "$LVSD_STATS" ]; then
        sleep 1.1
        local now
        now=$(awk '{ printf "%s=%s ", $1, $2 }' "$LVSD_STATS")
        extra="lvsd: $(stats_delta "${LAST_STATS:-}" "$now")"
        LAST_STATS=$now
    fi
    local line
    line=$(printf '%-12s rate=%-8s sent=%-8s delivered=%-8s loss=%s cpu0=%s%% cpu1=%s%% director=%s%% %s' \
        "$CURRENT_PATH" "$rate" "$T_SENT" "$T_DELIV" \
        "$(awk -v s="$T_SENT" -v d="$T_DELIV" 'BEGIN { if (s > 0) printf "%.4f", 1 - d / s; else print "-" }')" \
        "$T_CPU0" "$T_CPU1" "$T_DIR" "$extra")
    echo "$line" >>"$LAB_DIR/trials.log"
    [ -n "$VERBOSE" ] && echo "    $line" >&2
    return 0
}

# Differences of selected lvsd counters between two "name=value …" snapshots.
stats_delta() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, A, " "); for (i = 1; i <= n; i++) { split(A[i], kv, "="); old[kv[1]] = kv[2] }
        n = split(b, B, " "); for (i = 1; i <= n; i++) { split(B[i], kv, "="); new[kv[1]] = kv[2] }
        split("received transmitted transmit_failed ring_drops batches no_neighbor mallocs xdp_fast_tx xdp_fast_redirect xdp_steer_no_socket fast_path_installed", names, " ")
        for (i = 1; i in names; i++) { k = names[i]; if (k in new) printf "%s+%d ", k, new[k] - old[k] } }'
}

lossless() { awk -v s="$T_SENT" -v d="$T_DELIV" -v l="$LOSS" 'BEGIN { exit !(s > 0 && d >= s * (1 - l)) }'; }

# Sets up path $1 in the current lab: GEN_DST, GEN_DPORT, PATH_NOTE; returns 1 with SKIP_REASON.
setup_path() {
    GEN_DPORT=9
    PATH_NOTE=""
    case $1 in
    kernel) GEN_DST="$RS1,$RS2" ;;
    kernel-ct) GEN_DST="$RS1,$RS2"; setup_conntrack_only ;;
    nft-dnat) GEN_DST=$VIP; setup_nft_dnat udp 9 ;;
    lvs-*)
        GEN_DST=$VIP
        local m=${1#lvs-} mode=af-packet fast=1
        case $m in
        xdp-*) m=${m#xdp-}; mode=xdp ;;
        afxdp-*) m=${m#afxdp-}; mode=xdp; fast=0 ;;
        esac
        if [ ! -x "${LVS_BIN:-}/lvsd" ] || [ ! -x "$LVS_BIN/ipvsadm" ]; then
            SKIP_REASON="lvsd/ipvsadm not built"
            return 1
        fi
        case $m in
        dr) rs_vip_on_lo "$NS_R1"; rs_vip_on_lo "$NS_R2" ;;
        tun) PATH_NOTE="outer IPIP frames counted at r1/r2; no decapsulation on the sinks" ;;
        esac
        LVSD_ARGS="--data-plane $mode ${LVSD_EXTRA_ARGS:-}" LVSD_FAST_PATH=$fast start_lvsd "$1" || return 1
        setup_lvs_service "$m" -u 9 || return 1
        ;;
    *) echo "unknown path $1" >&2; exit 2 ;;
    esac
    # Real-server sinks drop the test traffic at ingress (after rx_packets counts it), so that
    # CPU0 does not spend time in the UDP stack or sending ICMP errors. No conntrack involved.
    local ns ifc
    for ns in "$NS_R1:r1" "$NS_R2:r2"; do
        ifc=${ns##*:}
        nsx "${ns%:*}" nft -f - <<EOF
table netdev lvsbench_sink {
    chain in { type filter hook ingress device $ifc priority 0; meta protocol ip ip protocol { udp, 4 } drop; }
}
EOF
    done
}

declare -A RES_MIDLE RES_MEXCESS RES_LOSSLESS RES_OVER RES_GEN RES_CPU1L RES_CPU1O RES_ALL1L RES_NOTE RES_MALLOC RES_SKIP

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
    local m0="" mi="" t0 t1
    if [[ $path == lvs-* ]]; then
        mi=$(read_malloc_counts "$LVSD_COUNTS")
        sleep 2
        m0=$(read_malloc_counts "$LVSD_COUNTS")
        RES_MIDLE[$key]=$(awk -v a="${mi%% *}" -v b="${m0%% *}" 'BEGIN { printf "%.1f", (b - a) / 2 }')
    fi
    t0=$(date +%s.%N)
    local d_total=0
    trial 100000 1
    d_total=$((d_total + T_DELIV))
    trial 0 "$SECONDS_PER_TRIAL"
    d_total=$((d_total + T_DELIV))
    local gen=$T_RATE over=$T_DRATE cpu1o="$T_DIR ($T_CPU1)" best=0 cpu1l="" all1l=""
    if lossless; then
        best=$T_RATE cpu1l=$T_DIR all1l=$T_CPU1
        RES_NOTE[$key]="generator-bound"
    else
        local lo=0 hi=$gen probe
        probe=$(awk -v o="$over" 'BEGIN { printf "%.0f", o * 0.97 }')
        local i
        for i in 1 2 3 4 5 6 7 8; do
            trial "$probe" "$SECONDS_PER_TRIAL"
            d_total=$((d_total + T_DELIV))
            if lossless; then
                lo=$probe best=$T_RATE cpu1l=$T_DIR all1l=$T_CPU1
            else
                hi=$probe
            fi
            awk -v lo="$lo" -v hi="$hi" 'BEGIN { exit !((hi - lo) < 0.02 * hi) }' && break
            probe=$(((lo + hi) / 2))
        done
    fi
    RES_LOSSLESS[$key]=$best RES_OVER[$key]=$over RES_GEN[$key]=$gen RES_CPU1L[$key]=${cpu1l:--} RES_CPU1O[$key]=$cpu1o RES_ALL1L[$key]=${all1l:--}
    if [ -n "$PATH_NOTE" ]; then RES_NOTE[$key]="${RES_NOTE[$key]:+${RES_NOTE[$key]}; }$PATH_NOTE"; fi
    if [[ $path == lvs-* ]]; then
        local m1
        m1=$(read_malloc_counts "$LVSD_COUNTS")
        t1=$(date +%s.%N)
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

# The mallocs cell: per million packets beyond the idle rate (total per million; idle per second; by thread).
malloc_cell() {
    if [ "${RES_MALLOC[$1]%% *}" = 0.0 ] && [ "${RES_MIDLE[$1]}" = 0.0 ]; then
        # A binary that defines malloc itself (lvsd-bench links CMallocCounter) wins over LD_PRELOAD.
        echo "not seen by malloccount.so (the binary interposes malloc itself)"
        return
    fi
    echo "${RES_MEXCESS[$1]} beyond idle (total ${RES_MALLOC[$1]%% *} per 1M; ${RES_MIDLE[$1]}/s idle; by thread: ${RES_MALLOC[$1]#* })"
}

label() {
    case $1 in
    kernel) echo "kernel L3 forwarding (ip_forward=1)" ;;
    kernel-ct) echo "kernel forwarding + conntrack (a nat table, no NAT done)" ;;
    nft-dnat) echo "nftables DNAT balancer (numgen inc mod 2)" ;;
    lvs-dr) echo "SwiftLVS DR (-g)" ;;
    lvs-nat) echo "SwiftLVS NAT (-m)" ;;
    lvs-tun) echo "SwiftLVS TUN (-i)" ;;
    lvs-fullnat) echo "SwiftLVS FULLNAT (--fullnat)" ;;
    lvs-*) local m=${1#lvs-} how="XDP fast path"
        case $m in afxdp-*) how="AF_XDP, fast path off"; m=${m#afxdp-} ;; xdp-*) m=${m#xdp-} ;; esac
        case $m in dr) m="DR (-g)" ;; nat) m="NAT (-m)" ;; tun) m="TUN (-i)" ;; fullnat) m="FULLNAT (--fullnat)" ;; esac
        echo "SwiftLVS $m, $how" ;;
    esac
}

kpps() { awk -v v="$1" 'BEGIN { printf "%.0f k", v / 1000 }'; }

# min / median / max of the numeric arguments (one value when there is one run).
minmed() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
        if (NR == 1) { printf "%.0f k\n", v[1] / 1000; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.0f / %.0f / %.0f k\n", v[1] / 1000, m / 1000, v[NR] / 1000 }'
}

IFS=, read -r -a path_list <<<"$PATHS"
echo "dataplane-pps: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)" >&2
echo "flows=$FLOWS size=$SIZE trial=${SECONDS_PER_TRIAL}s loss≤$LOSS runs=$RUNS offloads=$LAB_OFFLOADS" >&2
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
echo "| path | lossless pps (min / median / max) | × kernel | director CPU1 % at lossless (CPU1 all %) | director CPU-s per 1M packets | est. pps per director core | × kernel | overload: offered → delivered (median) | lvsd mallocs per 1M packets | notes |"
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
