#!/usr/bin/env bash
# lvsd's HTTP listener at scale, end to end: lvsd in a network namespace of its own with
# SERVICES × SERVERS (default 10,000 × 10) restored by ipvsadm -R; then
#  - /metrics scraped N times with curl (time_total: request to last byte; size),
#  - lvsd's CPU per second while a dashboard's requests run (status, services?limit=50, vrrp,
#    dataplane once a second) against the same seconds idle (utime+stime from /proc).
# Usage: bench/http.sh [SERVICES] [SERVERS] [SCRAPES] [SECONDS]   (needs root; release build)
# LVSD_INTERFACE=IF (default eth0, a veth of the namespace): the data plane's interface;
# LVSD_INTERFACE=none0 runs lvsd without a data plane (and so without its nftables guard, which
# also hooks lo and is evaluated rule by rule for every loopback packet, scrapes included).
set -euo pipefail
cd "$(dirname "$0")/.."
services="${1:-10000}"; servers="${2:-10}"; scrapes="${3:-10}"; seconds="${4:-20}"
bin="${LVS_BIN:-$PWD/.build/release}"
ns="lvshttpbench$$"
tmp="$(mktemp -d /tmp/swiftlvs-httpbench.XXXXXX)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" link set eth0 up; ip -n "$ns" link set eth1 up
ip -n "$ns" addr add 10.200.0.1/16 dev eth0
ip netns exec "$ns" "$bin/lvsd" -n -l --interface "${LVSD_INTERFACE:-eth0}" >"$tmp/lvsd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do ip netns exec "$ns" "$bin/ipvsadm" -Ln >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$services" "$servers" > "$tmp/rules" <<'PY'
import sys
n, m = int(sys.argv[1]), int(sys.argv[2])
out = []
for i in range(n):
    vip = f"10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}:80"
    out.append(f"-A -t {vip} -s wlc")
    for j in range(m):
        k = i * m + j
        out.append(f"-a -t {vip} -r 172.{16 + k // 65536}.{(k // 256) % 256}.{k % 256}:8080 -m -w {1 + j}")
print("\n".join(out))
PY
start=$(date +%s.%N)
ip netns exec "$ns" "$bin/ipvsadm" -R < "$tmp/rules"
echo "restored $services services × $servers servers in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}') s"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); data plane interface: ${LVSD_INTERFACE:-eth0}"
url=http://127.0.0.1:9110
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
s0=$(cpu)
for i in $(seq "$scrapes"); do
    ip netns exec "$ns" curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$url/metrics"
done | sort -n | awk '{t[NR]=$1; s=$2} END {printf "/metrics: %d scrapes, median %.1f ms, min %.1f ms, max %.1f ms, %.1f MB\n", NR, t[int((NR+1)/2)]*1000, t[1]*1000, t[NR]*1000, s/1048576}'
s1=$(cpu)
echo "/metrics: lvsd CPU per scrape $(awk -v a="$s0" -v b="$s1" -v hz="$hz" -v n="$scrapes" 'BEGIN {printf "%.1f", (b - a) * 1000 / hz / n}') ms"
lines=$(ip netns exec "$ns" curl -s "$url/metrics" | grep -vc '^#')
echo "/metrics: $lines samples"
for i in $(seq 3); do
    ip netns exec "$ns" curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$url/metrics?collect[]=backend_stats"
done | sort -n | awk '{t[NR]=$1; s=$2} END {printf "/metrics?collect[]=backend_stats: median %.1f ms, %.1f MB\n", t[2]*1000, s/1048576}'
c0=$(cpu); sleep "$seconds"; c1=$(cpu)
idle=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$seconds" 'BEGIN {printf "%.1f", (b - a) * 1000 / hz / s}')
c0=$(cpu)
for _ in $(seq "$seconds"); do
    for p in api/v1/status "api/v1/services?limit=50" api/v1/vrrp api/v1/dataplane; do
        ip netns exec "$ns" curl -s -o /dev/null "$url/$p"
    done
    sleep 1
done
c1=$(cpu)
busy=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$seconds" 'BEGIN {printf "%.1f", (b - a) * 1000 / hz / s}')
echo "lvsd CPU: idle $idle ms/s; with the dashboard's requests $busy ms/s (over $seconds s; the loop also sleeps 1 s per round)"
for i in 1 2 3; do
    ip netns exec "$ns" curl -s -o /dev/null -w '%{time_total}\n' "$url/api/v1/services?limit=50"
done | sort -n | awk '{t[NR]=$1} END {printf "/api/v1/services?limit=50: median %.1f ms\n", t[2]*1000}'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
