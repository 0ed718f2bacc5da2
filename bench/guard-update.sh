#!/usr/bin/env bash
# The nftables guard's cost per change of the service table: lvsd (AF_PACKET mode, guard on) in a
# namespace of its own with two veths; times `ipvsadm -R` of N services (one NAT real server each)
# and then single `ipvsadm -A` (each is one guard transaction), and counts the guard's rules/elements.
# Usage: sudo bench/guard-update.sh [N [LVSD-OPTIONS…]] (default 10000). Needs a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
[ $# -gt 0 ] && shift
bin="$PWD/.build/release"
ns="slvsguard$$"
tmp="$(mktemp -d /tmp/swiftlvs-guard.XXXXXX)"
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
ip -n "$ns" link set eth0 up && ip -n "$ns" link set eth1 up
ip netns exec "$ns" "$bin/lvsd" -n -l "$@" >"$tmp/lvsd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do ip netns exec "$ns" "$bin/ipvsadm" -Ln >/dev/null 2>&1 && break; sleep 0.05; done
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) {
    a = sprintf("10.%d.%d.%d", 1 + int(i / 65536), int(i / 256) % 256, i % 256)
    printf "-A -t %s:80 -s rr\n-a -t %s:80 -r 192.168.5.%d:80 -m -w 1\n", a, a, 1 + i % 200 } }' >"$tmp/restore"
t0=$(date +%s.%N)
ip netns exec "$ns" "$bin/ipvsadm" -R <"$tmp/restore"
t1=$(date +%s.%N)
echo "ipvsadm -R of $n services: $(echo "$t1 - $t0" | bc) s"
for i in 1 2 3 4 5; do
    t0=$(date +%s.%N)
    ip netns exec "$ns" "$bin/ipvsadm" -A -t "10.250.0.$i:80"
    t1=$(date +%s.%N)
    echo "ipvsadm -A with $((n + i - 1)) services: $(echo "($t1 - $t0) * 1000" | bc) ms"
done
if command -v nft >/dev/null; then
    echo "guard: $(ip netns exec "$ns" nft list table netdev swiftlvs | grep -c ' drop$') drop rules," \
        "$(ip netns exec "$ns" nft -j list set netdev swiftlvs services4 | grep -o '"concat"' | wc -l) elements in services4"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
