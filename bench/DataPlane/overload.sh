#!/usr/bin/env bash
# Offered vs delivered from 0.5× to 4× each path's lossless rate, as a table and a PNG (gnuplot).
#
# Run through `scripts/bench dataplane-overload [options]`. Options:
#   --paths LIST    paths as in pps.sh (default lvs-nat,lvs-afxdp-nat,lvs-xdp-nat,lvs-dr,lvs-xdp-dr)
#   --seconds S     length of one trial (default 2)
#   --factors LIST  multiples of the lossless rate to offer (default 0.5,1,1.5,2,3,4)
#   --png FILE      where to write the plot (default bench/overload.png; needs gnuplot)
#   --wait-idle S / --idle-max P / --input skb|xdp / --keep / --verbose   as in pps.sh
# Per path, in a fresh lab: the lossless rate by bisection (pps.sh's method), then one paced trial
# per factor. When the generator cannot reach a rate (its maximum is below it) the row says so
# and shows what it offered. Drops are read from lvsd's counters (ring/AF_XDP, by reason).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab.sh"
. "$here/trial.sh"

VERBOSE="" SECONDS_PER_TRIAL=2 FLOWS=1000 SIZE=60 LOSS=0.001 WAIT_IDLE=300 IDLE_MAX=20
PATHS="lvs-nat,lvs-afxdp-nat,lvs-xdp-nat,lvs-dr,lvs-xdp-dr"
FACTORS="0.5,1,1.5,2,3,4"
PNG="$here/../overload.png"
while [ $# -gt 0 ]; do
    case $1 in
    --paths) PATHS=$2; shift 2 ;;
    --seconds) SECONDS_PER_TRIAL=$2; shift 2 ;;
    --factors) FACTORS=$2; shift 2 ;;
    --png) PNG=$2; shift 2 ;;
    --keep) LAB_KEEP=1; shift ;;
    --input) LAB_INPUT=$2; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    --wait-idle) WAIT_IDLE=$2; shift 2 ;;
    --idle-max) IDLE_MAX=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then echo "dataplane-overload needs root (network namespaces)" >&2; exit 1; fi
require_commands ip:iproute2 nft:nftables ethtool:ethtool taskset:util-linux gnuplot:gnuplot-nox || exit 1
[ -x "${PKTGEN:-}" ] || { echo "PKTGEN is not set; run through scripts/bench" >&2; exit 1; }
lab_init

IFS=, read -r -a path_list <<<"$PATHS"
IFS=, read -r -a factor_list <<<"$FACTORS"
DATA="$LAB_DIR/overload.dat"
: >"$DATA"
echo "dataplane-overload: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
echo "| path | lossless | × lossless offered → offered / delivered (× lossless delivered) | drops by reason at the highest rate (lvsd counters) |"
echo "|---|---|---|---|"
for p in "${path_list[@]}"; do
    CURRENT_PATH=$p LVSD_STATS="" LAST_STATS=""
    if [ "$WAIT_IDLE" -gt 0 ] && ! wait_idle "$WAIT_IDLE" "$IDLE_MAX"; then
        echo "  machine busy before $p (CPU0/CPU1 $BACKGROUND)" >&2
    fi
    lab_up "ov-$p"
    SKIP_REASON=""
    if ! setup_path "$p"; then
        echo "| $p | not available: $SKIP_REASON | | |"
        lab_teardown
        continue
    fi
    lab_threaded_napi
    trial 20000 0.1
    trial 100000 1
    find_lossless "$SECONDS_PER_TRIAL"
    L=$FL_BEST
    cells=""
    echo "$p: lossless $L pps ($FL_NOTE)" >&2
    for f in "${factor_list[@]}"; do
        rate=$(awk -v l="$L" -v f="$f" 'BEGIN { printf "%.0f", l * f }')
        trial "$rate" "$SECONDS_PER_TRIAL"
        reach=""
        awk -v s="$T_RATE" -v r="$rate" 'BEGIN { exit !(s < 0.95 * r) }' && reach=" (generator max)"
        echo "$p $f $T_RATE $T_DRATE $L" >>"$DATA"
        cells+="$f×: $(kpps "$T_RATE")$reach / $(kpps "$T_DRATE") ($(awk -v d="$T_DRATE" -v l="$L" 'BEGIN { printf "%.2f", d / l }')×); "
        echo "  $f× offered $T_RATE delivered $T_DRATE$reach" >&2
    done
    drops=""
    if [ -n "${LVSD_STATS:-}" ] && [ -s "$LVSD_STATS" ]; then
        drops=$(awk '$2 > 0 && ($1 ~ /^drop_|ring_drops|transmit_failed|xdp_steer_no_socket|xdp_slow_/) { printf "%s %s, ", $1, $2 }' "$LVSD_STATS")
    fi
    echo "| $(label "$p") | $(kpps "$L") | $cells | ${drops:-–} |"
    lab_teardown
done

# The plot: delivered against offered, both as multiples of the path's lossless rate.
gnuplot <<EOG
set terminal pngcairo size 900,600 font "sans,10" noenhanced
set output "$PNG"
set title "Offered vs delivered, as multiples of each path's lossless rate ($(date -u '+%Y-%m-%d'))"
set xlabel "offered / lossless"
set ylabel "delivered / lossless"
set key left top
set grid
set xrange [0:4.5]
set yrange [0:*]
plot x title "lossless line" dashtype 2 lc rgb "gray", \
$(for p in "${path_list[@]}"; do printf '"%s" using ($3/$5):($4/$5) every ::0 with linespoints title "%s" , ' "<grep '^$p ' $DATA" "$(label "$p")"; done | sed 's/ , $//')
EOG
echo "plot written to $PNG" >&2
