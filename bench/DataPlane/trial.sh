# Trials for the pps and overload suites (sourced after lab.sh): paced UDP from the client, counted at the real servers.
#
# Globals the caller sets: FLOWS, SIZE, LOSS, VERBOSE, CURRENT_PATH, PKTGEN, LAB_DIR.

rx_rs() {
    echo $(($(nsx "$NS_R1" cat /sys/class/net/r1/statistics/rx_packets) + $(nsx "$NS_R2" cat /sys/class/net/r2/statistics/rx_packets)))
}

# One trial: trial RATE SECONDS (rate 0 = unpaced). Sets T_SENT T_DELIV T_RATE T_DRATE T_CPU0 T_CPU1
# (tick-sampled CPU1 busy) T_DIR (the director's CPU1 %: exact, see below) T_DIR_TICKS.
trial() {
    local rate=$1 secs=$2 before after s0 s1 out GEN_CMD
    generator_command
    before=$(rx_rs)
    s0=$(cpu_sample)
    out=$(taskset -c 0 ip netns exec "$NS_C" "${GEN_CMD[@]}" -i c0 -s "$MAC_C0" -d "$MAC_D0" --src 10.0.1.101,150 \
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
    read -r T_CPU0 T_CPU1 T_DIR T_CPU1X < <(cpu_busy "$s0" "$s1")
    # The director's CPU: CPU1's exact busy time (cpuidle residency) where the machine has it —
    # the suites run on a quiet machine with only the director on CPU1 — else the tick-sampled
    # share of the director's processes, NAPI threads and softirqs (an undercount at low load).
    T_DIR_TICKS=$T_DIR
    if [ "${T_CPU1X:--1}" -ge 0 ]; then T_DIR=$T_CPU1X; fi
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
    line=$(printf '%-12s rate=%-8s sent=%-8s delivered=%-8s loss=%s cpu0=%s%% cpu1=%s%% director=%s%% (ticks %s%%) %s' \
        "$CURRENT_PATH" "$rate" "$T_SENT" "$T_DELIV" \
        "$(awk -v s="$T_SENT" -v d="$T_DELIV" 'BEGIN { if (s > 0) printf "%.4f", 1 - d / s; else print "-" }')" \
        "$T_CPU0" "$T_CPU1" "$T_DIR" "$T_DIR_TICKS" "$extra")
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
    # Real-server sinks drop the test traffic as early as possible (after rx_packets counts it),
    # so that CPU0 spends its time generating: an XDP_DROP program (xdpsink; it also gives the
    # veth NAPI, so XDP transmissions into it arrive), or without it a netdev ingress drop.
    local ns ifc
    for ns in "$NS_R1:r1" "$NS_R2:r2"; do
        ifc=${ns##*:}
        if [ -x "${XDPSINK:-}" ] && nsx "${ns%:*}" "$XDPSINK" "$ifc"; then continue; fi
        nsx "${ns%:*}" nft -f - <<EOF
table netdev lvsbench_sink {
    chain in { type filter hook ingress device $ifc priority 0; meta protocol ip ip protocol { udp, 4 } drop; }
}
EOF
    done
}


# The generator unpaced (overload), then a bisection over paced rates of $1 seconds each for the
# highest lossless one (2 % resolution). Sets FL_GEN FL_OVER FL_CPU1O (unpaced: offered,
# delivered, director CPU) FL_BEST FL_CPU1L FL_ALL1L (lossless rate and CPU) FL_DELIVERED FL_NOTE.
find_lossless() {
    local secs=$1
    FL_DELIVERED=0 FL_NOTE="" FL_BEST=0 FL_CPU1L="" FL_ALL1L=""
    trial 0 "$secs"
    FL_DELIVERED=$((FL_DELIVERED + T_DELIV))
    FL_GEN=$T_RATE FL_OVER=$T_DRATE FL_CPU1O="$T_DIR ($T_CPU1)"
    if lossless; then
        FL_BEST=$T_RATE FL_CPU1L=$T_DIR FL_ALL1L=$T_CPU1
        FL_NOTE="generator-bound"
        return
    fi
    local lo=0 hi=$FL_GEN probe i
    probe=$(awk -v o="$FL_OVER" 'BEGIN { printf "%.0f", o * 0.97 }')
    for i in 1 2 3 4 5 6 7 8; do
        trial "$probe" "$secs"
        FL_DELIVERED=$((FL_DELIVERED + T_DELIV))
        if lossless; then
            lo=$probe FL_BEST=$T_RATE FL_CPU1L=$T_DIR FL_ALL1L=$T_CPU1
        else
            hi=$probe
        fi
        awk -v lo="$lo" -v hi="$hi" 'BEGIN { exit !((hi - lo) < 0.02 * hi) }' && break
        probe=$(((lo + hi) / 2))
    done
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
