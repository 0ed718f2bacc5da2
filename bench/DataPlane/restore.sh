#!/usr/bin/env bash
# `ipvsadm -R` of 10,000 services (and `ipvsadm -Ln` of them) while lvsd forwards at its lossless rate: packets lost?
#
# Run through `scripts/bench dataplane-restore [options]`. Options:
#   --paths LIST    paths as in pps.sh (default lvs-nat,lvs-xdp-nat)
#   --services N    services in the restore (default 10000; each with one NAT real server)
#   --seconds S     length of a trial (default 6: longer than the restore)
#   --runs N        trials with and without the restore, alternating (default 3)
#   --wait-idle S / --idle-max P / --keep / --verbose   as in pps.sh
# Per path, in a fresh lab: the lossless rate (pps.sh's bisection, 2 s trials) times 0.95, then
# alternating trials at that rate: quiet, and with `ipvsadm -R` of N services started 1 s into
# the trial, then `ipvsadm -Ln` of the whole table and `ipvsadm -C` (flush) again, all inside the
# trial. Each trial reports sent/delivered and how long the control commands took.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab.sh"
. "$here/trial.sh"

VERBOSE="" SECONDS_PER_TRIAL=6 FLOWS=1000 SIZE=60 LOSS=0.001 WAIT_IDLE=300 IDLE_MAX=20 RUNS=3 SERVICES=10000
PATHS="lvs-nat,lvs-xdp-nat"
while [ $# -gt 0 ]; do
    case $1 in
    --paths) PATHS=$2; shift 2 ;;
    --services) SERVICES=$2; shift 2 ;;
    --seconds) SECONDS_PER_TRIAL=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --keep) LAB_KEEP=1; shift ;;
    --verbose) VERBOSE=1; shift ;;
    --wait-idle) WAIT_IDLE=$2; shift 2 ;;
    --idle-max) IDLE_MAX=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then echo "dataplane-restore needs root (network namespaces)" >&2; exit 1; fi
require_commands ip:iproute2 nft:nftables ethtool:ethtool taskset:util-linux || exit 1
[ -x "${PKTGEN:-}" ] || { echo "PKTGEN is not set; run through scripts/bench" >&2; exit 1; }
lab_init

# The restore file: N services 10.200.x.y:80 (TCP, rr), each with one NAT real server.
RESTORE="$LAB_DIR/restore.txt"
awk -v n="$SERVICES" 'BEGIN { for (i = 0; i < n; i++) { a = sprintf("10.200.%d.%d:80", int(i / 250), i % 250 + 1)
    printf "-A -t %s -s rr\n-a -t %s -r 10.0.2.11:80 -m -w 1\n", a, a } }' >"$RESTORE"

# Control work during a trial: -R, -Ln (the whole table), -C of the restored services; times in ms.
control_load() {
    sleep 1
    local t0 t1 t2 t3
    t0=$(date +%s%N)
    nsx "$NS_D" "$LVS_BIN/ipvsadm" -R <"$RESTORE"
    t1=$(date +%s%N)
    nsx "$NS_D" "$LVS_BIN/ipvsadm" -Ln >"$LAB_DIR/listing.txt"
    t2=$(date +%s%N)
    awk '/^-A/ { print "-D " $2 " " $3 }' "$RESTORE" | nsx "$NS_D" "$LVS_BIN/ipvsadm" -R
    t3=$(date +%s%N)
    echo "restore $(((t1 - t0) / 1000000)) ms, listing $(((t2 - t1) / 1000000)) ms ($(wc -l <"$LAB_DIR/listing.txt") lines), delete $(((t3 - t2) / 1000000)) ms" >"$LAB_DIR/control.txt"
}

IFS=, read -r -a path_list <<<"$PATHS"
echo "dataplane-restore: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), $SERVICES services" >&2
echo
echo "| path | rate (0.95 × lossless) | quiet trials: lost / sent | trials with -R, -Ln, -D of $SERVICES services: lost / sent | control commands (last trial) |"
echo "|---|---|---|---|---|"
for p in "${path_list[@]}"; do
    CURRENT_PATH=$p LVSD_STATS="" LAST_STATS=""
    if [ "$WAIT_IDLE" -gt 0 ] && ! wait_idle "$WAIT_IDLE" "$IDLE_MAX"; then
        echo "  machine busy before $p (CPU0/CPU1 $BACKGROUND)" >&2
    fi
    lab_up "rs-$p"
    SKIP_REASON=""
    if ! setup_path "$p"; then
        echo "| $p | not available: $SKIP_REASON | | | |"
        lab_teardown
        continue
    fi
    lab_threaded_napi
    trial 20000 0.1
    trial 100000 1
    find_lossless 2
    rate=$(awk -v l="$FL_BEST" 'BEGIN { printf "%.0f", l * 0.95 }')
    quiet="" loaded=""
    for r in $(seq "$RUNS"); do
        trial "$rate" "$SECONDS_PER_TRIAL"
        quiet+="$((T_SENT - T_DELIV)) / $T_SENT; "
        control_load &
        cpid=$!
        trial "$rate" "$SECONDS_PER_TRIAL"
        wait "$cpid" || true
        loaded+="$((T_SENT - T_DELIV)) / $T_SENT; "
        echo "  $p run $r: quiet lost $(echo "$quiet" | awk -F'; ' '{ print $NF ? $NF : $(NF-1) }'), with control $((T_SENT - T_DELIV)) / $T_SENT ($(cat "$LAB_DIR/control.txt"))" >&2
    done
    echo "| $(label "$p") | $(kpps "$rate") | $quiet | $loaded | $(cat "$LAB_DIR/control.txt") |"
    lab_teardown
done
