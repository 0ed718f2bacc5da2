#!/bin/bash
# The DR failover of a download by hand, with (default) or without (NOSYNC=1) ipvsadm --start-daemon: two lvsd in
# namespaces unique to the run, nginx behind an 8 Mbit/s tbf, the VIP moved by hand, the master's link set down.
# Usage (root, after swift build -c release): bench/sync-control-lab.sh; NOSYNC=1 bench/sync-control-lab.sh
set -u
P=sl$$
B="$(cd "$(dirname "$0")/.." && pwd)/.build/release"
D=$(mktemp -d /tmp/sync-control-XXXXXX)
cleanup() { for p in $(cat $D/pids 2>/dev/null); do kill $p 2>/dev/null; done; sleep 0.5; for n in sw d1 d2 c w1; do ip netns del $P-$n 2>/dev/null; done; rm -rf "$D"; }
trap cleanup EXIT
for n in sw d1 d2 c w1; do ip netns add $P-$n; ip -n $P-$n link set lo up; done
ip -n $P-sw link add br0 type bridge; ip -n $P-sw link set br0 up
i=0
for spec in "d1 192.168.0.210" "d2 192.168.0.211" "c 192.168.0.220" "w1 192.168.0.223"; do
  set -- $spec; i=$((i+1))
  ip -n $P-$1 link add eth0 type veth peer name p$i netns $P-sw
  ip -n $P-sw link set p$i master br0; ip -n $P-sw link set p$i up
  ip -n $P-$1 addr add $2/24 dev eth0; ip -n $P-$1 link set eth0 up
done
ip netns exec $P-w1 sh -c "ip addr add 192.168.0.240/32 dev lo; sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"
ip netns exec $P-w1 tc qdisc add dev eth0 root tbf rate 8mbit burst 32kb latency 400ms
mkdir -p $D/html; head -c 8000000 /dev/zero > $D/html/big.bin; echo w1 > $D/html/index.html
cat > $D/nginx.conf <<NG
daemon off; pid $D/nginx.pid; error_log $D/nginx.err; events {}
http { access_log off; client_body_temp_path $D/b; proxy_temp_path $D/p; fastcgi_temp_path $D/f; uwsgi_temp_path $D/u; scgi_temp_path $D/s; server { listen 80; root $D/html; } }
NG
ip netns exec $P-w1 nginx -c $D/nginx.conf & echo $! >> $D/pids
for n in d1 d2; do
  ip netns exec $P-$n $B/lvsd -n -l -D > $D/lvsd-$n.log 2>&1 & echo $! >> $D/pids
done
sleep 2
for n in d1 d2; do
  ip netns exec $P-$n $B/ipvsadm -A -t 192.168.0.240:80 -s rr
  ip netns exec $P-$n $B/ipvsadm -a -t 192.168.0.240:80 -r 192.168.0.223:80 -g
done
ip -n $P-d1 addr add 192.168.0.240/24 dev eth0
if [ -z "${NOSYNC:-}" ]; then
ip netns exec $P-d1 $B/ipvsadm --start-daemon master --mcast-interface eth0; echo "start master: $?"
ip netns exec $P-d2 $B/ipvsadm --start-daemon backup --mcast-interface eth0; echo "start backup: $?"
fi
ip netns exec $P-d1 $B/ipvsadm --start-daemon master --mcast-interface eth0; echo "again: $?"
ip netns exec $P-d1 $B/ipvsadm --start-daemon backup --mcast-interface nope0; echo "nope0: $?"
ip netns exec $P-d1 $B/ipvsadm -L --daemon; ip netns exec $P-d2 $B/ipvsadm -L --daemon
sleep 1
(ip netns exec $P-c curl -s -o /dev/null -w '%{http_code} %{size_download}\n' --limit-rate 10M -m 60 http://192.168.0.240/big.bin > $D/curl.out 2>&1; echo "curl exit $?" >> $D/curl.out) & CURL=$!
sleep 3
echo "--- d1 table:"; ip netns exec $P-d1 $B/ipvsadm -Lnc; echo "--- d2 table:"; ip netns exec $P-d2 $B/ipvsadm -Lnc; cat $D/curl.out
# failover: move VIP to d2 (manual), d1 leaves the network
ip -n $P-d1 link set eth0 down
ip -n $P-d2 addr add 192.168.0.240/24 dev eth0
M=$(ip -n $P-d2 -o link show eth0 | sed 's/.*link.ether \([^ ]*\).*/\1/'); ip -n $P-c neigh replace 192.168.0.240 lladdr $M dev eth0
wait $CURL
cat $D/curl.out
echo "--- d2 stats:"; ip netns exec $P-d2 $B/ipvsadm -Ln --stats
tail -5 $D/lvsd-d2.log
