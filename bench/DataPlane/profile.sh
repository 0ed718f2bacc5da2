#!/usr/bin/env bash
# Where lvsd's time goes: a perf profile of lvsd forwarding a paced UDP load in the benchmark lab.
#
#   scripts/bench dataplane-profile [dr|nat|tun|fullnat] [RATE pps, default 200000] [SECONDS, default 5]
#
# Builds the lab of pps.sh (split layout), starts lvsd with one virtual service, sends RATE pps
# from the client (CPU0) and records, for SECONDS, every thread of lvsd (user and kernel time in
# its context: ring reads, sendmmsg) and all of CPU1 (adds the softirq work that fills the ring).
# The machine has no hardware counters under Firecracker: perf samples cpu-clock. perf 6.1 does
# not read the symbols of Swift 6 binaries, so lvsd addresses are resolved with addr2line and
# `swift demangle --simplified`. Prints: the delivered rate, CPU1 time by command, lvsd's top
# symbols, and the kernel symbols of CPU1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab.sh"

METHOD=${1:-nat}
RATE=${2:-200000}
SECS=${3:-5}
case $METHOD in dr | nat | tun | fullnat) ;; *) echo "method: dr|nat|tun|fullnat" >&2; exit 2 ;; esac
if [ "$(id -u)" != 0 ]; then echo "dataplane-profile needs root" >&2; exit 1; fi
require_commands ip:iproute2 nft:nftables perf:linux-perf addr2line:binutils taskset:util-linux || exit 1
[ -x "${LVS_BIN:-}/lvsd" ] || { echo "LVS_BIN/lvsd not built; run through scripts/bench" >&2; exit 1; }

lab_init
lab_up prof
for ns in "$NS_R1:r1" "$NS_R2:r2"; do
    nsx "${ns%:*}" nft -f - <<EOF
table netdev lvsbench_sink {
    chain in { type filter hook ingress device ${ns##*:} priority 0; meta protocol ip ip protocol { udp, 4 } drop; }
}
EOF
done
if [ "$METHOD" = dr ]; then rs_vip_on_lo "$NS_R1"; rs_vip_on_lo "$NS_R2"; fi
start_lvsd "prof" || { echo "$SKIP_REASON" >&2; exit 1; }
setup_lvs_service "$METHOD" -u 9 || { echo "$SKIP_REASON" >&2; exit 1; }

rx() { echo $(($(nsx "$NS_R1" cat /sys/class/net/r1/statistics/rx_packets) + $(nsx "$NS_R2" cat /sys/class/net/r2/statistics/rx_packets))); }
before=$(rx)
generator_command
taskset -c 0 ip netns exec "$NS_C" "${GEN_CMD[@]}" -i c0 -s "$MAC_C0" -d "$MAC_D0" --src 10.0.1.101,150 --dst "$VIP" \
    --flows 1000 --rate "$RATE" --seconds $((SECS + 2)) >"$LAB_DIR/pktgen.txt" &
gen=$!
LAB_PIDS+=("$gen")
sleep 1
perf record -q -p "$LVSD_PID" -o "$LAB_DIR/lvsd.data" -- sleep "$SECS" 2>/dev/null &
p1=$!
perf record -q -C 1 -o "$LAB_DIR/cpu1.data" -- sleep "$SECS" 2>/dev/null
wait "$p1" "$gen"
sleep 0.3
after=$(rx)
echo "lvsd $METHOD at $RATE pps offered: $(cat "$LAB_DIR/pktgen.txt"), delivered $((after - before)) frames"
echo
echo "CPU1 samples by command (share of CPU1's samples; idle is not sampled):"
perf report -i "$LAB_DIR/cpu1.data" --no-children --sort comm 2>/dev/null | grep -E '^ +[0-9.]+%' | head -8
echo
echo "lvsd (all threads), top symbols:"
perf report -i "$LAB_DIR/lvsd.data" --no-children --sort dso,sym 2>/dev/null | grep -E '^ +[0-9.]+%' | head -40 |
    while read -r pct dso kind sym; do
        if [ "$dso" = lvsd ] && [[ $sym == 0x* ]]; then
            sym=$(addr2line -f -e "$LVS_BIN/lvsd" "$sym" | head -1 | swift demangle --simplified 2>/dev/null | cut -c1-110)
        fi
        printf '%8s  %-18s %s\n' "$pct" "$dso" "$sym"
    done
echo
echo "CPU1 kernel symbols (softirq and system calls of everyone on CPU1):"
perf report -i "$LAB_DIR/cpu1.data" --no-children --sort sym 2>/dev/null | grep -E '^ +[0-9.]+% +\[k\]' | head -20
