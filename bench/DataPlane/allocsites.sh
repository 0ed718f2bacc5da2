#!/usr/bin/env bash
# Where lvsd's threads allocate: one lab path under steady traffic, then idle, malloc backtraces by thread (perf uprobes).
#
# Run through `scripts/bench dataplane-allocsites [PATH] [RATE] [SECONDS]` (root; builds the tools
# and lvsd first). PATH is one of pps.sh's lvs-* paths (default lvs-afxdp-nat), RATE the paced
# offered rate (default 100000 pps), SECONDS the length of each recorded window (default 10).
# Environment: THREADS = regex of the thread names recorded (default '^lvsd-dp'; '.' for all),
# LAB_INPUT (skb|xdp, default xdp), and what pps.sh takes (PKTGEN, XDPGEN, LVS_BIN, …).
#
# Two windows are recorded with `perf record --call-graph fp` on uprobes at glibc's allocation
# entry points (malloc, calloc, realloc, memalign; malloccount.so and the Swift runtime end in
# them): "forwarding" (the generator at RATE) and "idle" (no traffic). Printed per window: the
# packets delivered, the calls per thread, and each distinct call stack with its count (Swift
# names demangled). The uprobe group is unique to the run and deleted at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
LAB_INPUT=${LAB_INPUT:-xdp}
. "$here/lab.sh"
. "$here/trial.sh"

ALLOC_PATH=${1:-lvs-afxdp-nat}
RATE=${2:-100000}
SECS=${3:-10}
THREADS=${THREADS:-^lvsd-dp}
FLOWS=1000 SIZE=60 LOSS=0.001 VERBOSE="" CURRENT_PATH=$ALLOC_PATH LVSD_STATS="" LAST_STATS=""

if [ "$(id -u)" != 0 ]; then echo "dataplane-allocsites needs root (network namespaces, uprobes)" >&2; exit 1; fi
require_commands ip:iproute2 perf:linux-perf ethtool:ethtool taskset:util-linux || exit 1
[[ $ALLOC_PATH == lvs-* ]] || { echo "PATH must be an lvs-* path of pps.sh, not $ALLOC_PATH" >&2; exit 2; }

LIBC=$(ldd "$LVS_BIN/lvsd" | awk '$1 ~ /^libc\.so/ { print $3 }')
GROUP="lvsalloc$$"
probes_del() { perf probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; }
lab_init
trap 'probes_del; lab_cleanup' EXIT
for f in malloc calloc realloc memalign; do
    perf probe -q -x "$LIBC" -a "$GROUP:$f=$f" >/dev/null
done

lab_up alloc
setup_path "$ALLOC_PATH" || { echo "$ALLOC_PATH: $SKIP_REASON" >&2; exit 1; }
lab_threaded_napi
trial 20000 0.1
echo "$ALLOC_PATH: probe delivered $T_DELIV of $T_SENT" >&2

# The threads to record, by name.
thread_ids() {
    local t
    for t in /proc/"$LVSD_PID"/task/*; do
        if grep -Eq "$THREADS" "$t/comm" 2>/dev/null; then printf '%s,' "${t##*/}"; fi
    done | sed 's/,$//'
}

# Prints the report of one perf.data file: calls by thread, then stacks by count.
report() {
    local data=$1
    echo "calls by thread:"
    { perf script -i "$data" -F comm 2>/dev/null || true; } | sort | uniq -c | sort -rn | sed 's/^/  /'
    echo "stacks (count, innermost first):"
    { perf script -i "$data" -F comm,event,ip,sym --no-inline 2>/dev/null || true; } | swift demangle --simplified | awk '
        /^[^ \t]/ { if (stack != "") n[stack]++; stack = $0 "\n"; next }
        NF == 0 { if (stack != "") n[stack]++; stack = ""; next }
        { if (split(stack, lines, "\n") <= 14) { sub(/^[ \t]+[0-9a-f]+ /, "      "); stack = stack $0 "\n" } }
        END { if (stack != "") n[stack]++; for (s in n) printf "%d\t%s", n[s], s "\x1e" }' |
        tr '\036' '\0' | sort -z -rn | tr '\0' '\n' | head -n 400 || true
}

window() {
    local name=$1 rate=$2 before after out gen_pid=""
    before=$(rx_rs)
    if [ "$rate" -gt 0 ]; then
        generator_command
        taskset -c 0 ip netns exec "$NS_C" "${GEN_CMD[@]}" -i c0 -s "$MAC_C0" -d "$MAC_D0" --src 10.0.1.101,150 \
            --dst "$GEN_DST" --dport "$GEN_DPORT" --flows "$FLOWS" --size "$SIZE" --rate "$rate" \
            --seconds $((SECS + 3)) >"$LAB_DIR/gen-$name.log" 2>&1 &
        gen_pid=$!
        sleep 2
    fi
    out="$LAB_DIR/perf-$name.data"
    TIDS=$(thread_ids)
    [ -n "$TIDS" ] || { echo "no lvsd thread matches $THREADS" >&2; exit 1; }
    perf record -q -o "$out" -e "$GROUP:*" --call-graph fp -t "$TIDS" -- sleep "$SECS" >"$LAB_DIR/perf-$name.log" 2>&1 ||
        echo "perf record: $(tail -n 1 "$LAB_DIR/perf-$name.log")" >&2
    if [ -n "$gen_pid" ]; then wait "$gen_pid" 2>/dev/null || true; fi
    after=$(rx_rs)
    local traffic="no traffic"
    if [ "$rate" -gt 0 ]; then
        traffic="offered $rate pps, real servers received $((after - before)) packets over the generator's $((SECS + 3)) s"
    fi
    echo "== $name: ${SECS} s recorded, $traffic; threads $TIDS"
    report "$out"
}

echo "dataplane-allocsites: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), path $ALLOC_PATH input $LAB_INPUT"
window forwarding "$RATE"
sleep 1
window idle 0
