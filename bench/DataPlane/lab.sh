# Data-plane benchmark lab: namespaces, split core layout, balancer set-ups, cleanup (sourced by pps.sh/http.sh).
#
#   client ns            director ns                          rs1 ns / rs2 ns
#   c0 10.0.1.2 ──veth── d0 10.0.1.1 (+ VIP 10.0.1.100/32)
#                        d1 10.0.2.1/32 (+ LIP 10.0.2.5/32) ──veth── r1 10.0.2.11/24 (gw 10.0.2.1)
#                        d2 10.0.2.1/32 ─────────────────────veth── r2 10.0.2.12/24 (gw 10.0.2.1)
#                        (routes 10.0.2.11/32 dev d1, 10.0.2.12/32 dev d2)
#
# Routed links, no bridge on the director (LAB_TOPOLOGY=bridge: d1, d2 in a bridge br0 10.0.2.1/24,
# as the first measurements had): every director interface is a veth that can run XDP natively
# and that the XDP fast path can transmit into. The peers c0, r1, r2 have GRO on (NAPI: frames
# XDP sends into the director's veths arrive; LAB_PEER_GRO=off keeps it off) and every veth's
# NAPI runs threaded (lab_threaded_napi), pinned to the side's CPU, so that XDP work on the
# director's veths runs on CPU1 and the sinks' receive on CPU0 (a veth's NAPI otherwise runs on
# the CPU that transmitted into it: the generator's).
#
# Split layout (shared/reference/machine-limits.md): CPU0 runs the generator/wrk and the real servers
# (rps_cpus=1 on c0, r1, r2), CPU1 runs the director (rps_cpus=2 on d0, d1, d2, br0; director
# programs started with `taskset -c 1`). Static neighbours everywhere and static FDB entries on br0
# (a bridge with static neighbours never learns and floods). IPv6 is off so that no ND/MLD frame is
# counted. Offloads are off on every veth unless LAB_OFFLOADS=on (AF_PACKET sees partial checksums
# and GSO frames otherwise; the peers run on the same set-up).
#
# Safety: every namespace name carries this run's id; nothing is created in the host namespace (veths
# are created inside a lab namespace with their peer moved to another lab namespace); processes are
# stopped by the PIDs this file recorded; only this run's namespaces are deleted.

VIP=10.0.1.100
LIP=10.0.2.5
RS1=10.0.2.11
RS2=10.0.2.12
LAB_OFFLOADS=${LAB_OFFLOADS:-off}
LAB_TOPOLOGY=${LAB_TOPOLOGY:-routed}
LAB_PEER_GRO=${LAB_PEER_GRO:-on}
# How the generator's frames reach the director: skb = pktgen's socket buffers from c0 into d0;
# xdp = xdpgen's XDP frames (lab_xdp_input), as a NIC driver hands frames over.
LAB_INPUT=${LAB_INPUT:-skb}
# Threads (kernel NAPI threads) whose CPU time is the director's, besides its namespace's processes.
DIRECTOR_EXTRA_PIDS=""
LAB_ID="lvsbench-$$-$RANDOM"
LAB_DIR=""
LAB_NAMESPACES=()
LAB_PIDS=()

# Creates the run directory and installs the cleanup trap. Call once.
lab_init() {
    LAB_DIR=$(mktemp -d /tmp/lvsbench.XXXXXX)
    chmod 755 "$LAB_DIR"
    trap lab_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Sets GEN_CMD, the generator for LAB_INPUT (pktgen's arguments follow it): pktgen on a packet
# socket, or xdpgen making XDP frames.
generator_command() {
    if [ "$LAB_INPUT" = xdp ]; then GEN_CMD=("$XDPGEN" --xdp "$XDPGEN_OBJ"); else GEN_CMD=("$PKTGEN"); fi
}

# Runs a command inside a lab namespace.
nsx() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# Starts a background process in namespace $1 pinned to CPU $2, output to file $3; sets LAST_PID.
lab_spawn() {
    local ns=$1 cpu=$2 log=$3
    shift 3
    taskset -c "$cpu" ip netns exec "$ns" "$@" >"$log" 2>&1 &
    LAST_PID=$!
    LAB_PIDS+=("$LAST_PID")
}

# Stops one recorded process: SIGTERM, then SIGKILL after 3 s.
lab_stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Stops every process this run started, then anything still inside this run's namespaces
# (children of ours: nginx workers), then deletes the namespaces.
lab_teardown() {
    local pid ns
    for pid in "${LAB_PIDS[@]}"; do lab_stop_pid "$pid"; done
    LAB_PIDS=()
    for ns in "${LAB_NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do lab_stop_pid "$pid"; done
        ip netns del "$ns" 2>/dev/null || true
    done
    LAB_NAMESPACES=()
}

lab_cleanup() {
    lab_teardown
    if [ -n "$LAB_DIR" ] && [ -z "${LAB_KEEP:-}" ]; then rm -rf "$LAB_DIR"; fi
    if [ -n "${LAB_KEEP:-}" ]; then echo "lab files kept in $LAB_DIR" >&2; fi
}

mac_of() { nsx "$1" cat "/sys/class/net/$2/address"; }

# Sets RPS on every receive queue of interface $2 in namespace $1 to CPU mask $3.
set_rps() {
    local q
    for q in $(nsx "$1" sh -c "ls -d /sys/class/net/$2/queues/rx-*"); do
        nsx "$1" sh -c "echo $3 > $q/rps_cpus"
    done
}

# Builds a fresh topology named after $1; sets NS_C NS_D NS_R1 NS_R2 and the MAC variables.
lab_up() {
    local tag=$1 ns ifc
    NS_C="$LAB_ID-$tag-c"
    NS_D="$LAB_ID-$tag-d"
    NS_R1="$LAB_ID-$tag-r1"
    NS_R2="$LAB_ID-$tag-r2"
    for ns in "$NS_C" "$NS_D" "$NS_R1" "$NS_R2"; do
        ip netns add "$ns"
        LAB_NAMESPACES+=("$ns")
        nsx "$ns" ip link set lo up
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        nsx "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
    done
    ip -n "$NS_C" link add c0 type veth peer name d0 netns "$NS_D"
    ip -n "$NS_R1" link add r1 type veth peer name d1 netns "$NS_D"
    ip -n "$NS_R2" link add r2 type veth peer name d2 netns "$NS_D"
    LAB_DIRECTOR_IFS="d0 d1 d2"
    if [ "$LAB_TOPOLOGY" = bridge ]; then
        ip -n "$NS_D" link add br0 type bridge
        ip -n "$NS_D" link set d1 master br0
        ip -n "$NS_D" link set d2 master br0
        LAB_DIRECTOR_IFS="d0 d1 d2 br0"
    fi
    for ifc in $LAB_DIRECTOR_IFS; do ip -n "$NS_D" link set "$ifc" up; done
    ip -n "$NS_C" link set c0 up
    ip -n "$NS_R1" link set r1 up
    ip -n "$NS_R2" link set r2 up

    ip -n "$NS_C" addr add 10.0.1.2/24 dev c0
    ip -n "$NS_C" route add default via 10.0.1.1
    ip -n "$NS_D" addr add 10.0.1.1/24 dev d0
    ip -n "$NS_D" addr add "$VIP/32" dev d0
    local inside1=br0 inside2=br0
    if [ "$LAB_TOPOLOGY" = bridge ]; then
        ip -n "$NS_D" addr add 10.0.2.1/24 dev br0
        ip -n "$NS_D" addr add "$LIP/24" dev br0
    else
        inside1=d1 inside2=d2
        ip -n "$NS_D" addr add 10.0.2.1/32 dev d1
        ip -n "$NS_D" addr add 10.0.2.1/32 dev d2
        ip -n "$NS_D" addr add "$LIP/32" dev d1
        ip -n "$NS_D" route add "$RS1/32" dev d1
        ip -n "$NS_D" route add "$RS2/32" dev d2
    fi
    ip -n "$NS_R1" addr add "$RS1/24" dev r1
    ip -n "$NS_R1" route add default via 10.0.2.1
    ip -n "$NS_R2" addr add "$RS2/24" dev r2
    ip -n "$NS_R2" route add default via 10.0.2.1
    nsx "$NS_D" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

    MAC_C0=$(mac_of "$NS_C" c0)
    MAC_D0=$(mac_of "$NS_D" d0)
    local mac_in1 mac_in2
    if [ "$LAB_TOPOLOGY" = bridge ]; then
        mac_in1=$(mac_of "$NS_D" br0) mac_in2=$mac_in1
    else
        mac_in1=$(mac_of "$NS_D" d1) mac_in2=$(mac_of "$NS_D" d2)
    fi
    MAC_R1=$(mac_of "$NS_R1" r1)
    MAC_R2=$(mac_of "$NS_R2" r2)
    ip -n "$NS_C" neigh replace 10.0.1.1 lladdr "$MAC_D0" dev c0 nud permanent
    ip -n "$NS_C" neigh replace "$VIP" lladdr "$MAC_D0" dev c0 nud permanent
    ip -n "$NS_D" neigh replace 10.0.1.2 lladdr "$MAC_C0" dev d0 nud permanent
    ip -n "$NS_D" neigh replace "$RS1" lladdr "$MAC_R1" dev "$inside1" nud permanent
    ip -n "$NS_D" neigh replace "$RS2" lladdr "$MAC_R2" dev "$inside2" nud permanent
    if [ "$LAB_TOPOLOGY" = bridge ]; then
        nsx "$NS_D" bridge fdb replace "$MAC_R1" dev d1 master static
        nsx "$NS_D" bridge fdb replace "$MAC_R2" dev d2 master static
    fi
    ip -n "$NS_R1" neigh replace 10.0.2.1 lladdr "$mac_in1" dev r1 nud permanent
    ip -n "$NS_R2" neigh replace 10.0.2.1 lladdr "$mac_in2" dev r2 nud permanent
    ip -n "$NS_R1" neigh replace "$LIP" lladdr "$mac_in1" dev r1 nud permanent
    ip -n "$NS_R2" neigh replace "$LIP" lladdr "$mac_in2" dev r2 nud permanent

    if [ "$LAB_OFFLOADS" = off ]; then
        nsx "$NS_C" ethtool -K c0 tx off tso off gso off gro off >/dev/null 2>&1 || true
        nsx "$NS_R1" ethtool -K r1 tx off tso off gso off gro off >/dev/null 2>&1 || true
        nsx "$NS_R2" ethtool -K r2 tx off tso off gso off gro off >/dev/null 2>&1 || true
        for ifc in $LAB_DIRECTOR_IFS; do
            nsx "$NS_D" ethtool -K "$ifc" tx off tso off gso off gro off >/dev/null 2>&1 || true
        done
    fi
    if [ "$LAB_PEER_GRO" = on ]; then
        nsx "$NS_C" ethtool -K c0 gro on >/dev/null 2>&1 || true
        nsx "$NS_R1" ethtool -K r1 gro on >/dev/null 2>&1 || true
        nsx "$NS_R2" ethtool -K r2 gro on >/dev/null 2>&1 || true
    fi
    case $LAB_INPUT in
    xdp) lab_xdp_input ;;
    skb) ;;
    *) echo "LAB_INPUT (--input) must be skb or xdp, not $LAB_INPUT" >&2; exit 2 ;;
    esac
    set_rps "$NS_C" c0 1
    set_rps "$NS_R1" r1 1
    set_rps "$NS_R2" r2 1
    for ifc in $LAB_DIRECTOR_IFS; do set_rps "$NS_D" "$ifc" 2; done
    # With XDP input d0 has NAPI, which runs (threaded) on CPU1 already: no RPS hop on top.
    if [ "$LAB_INPUT" = xdp ]; then set_rps "$NS_D" d0 0; fi
    DIRECTOR_EXTRA_PIDS=""
}

# NIC-like input (LAB_INPUT=xdp). A veth hands XDP a socket buffer only after copying it into a
# page with 256 bytes of headroom (veth_convert_skb_to_xdp_buff: a generator's socket buffers have
# neither the headroom nor a page-fragment head), a cost no NIC driver has: a driver runs XDP on its
# receive page before any skb exists. With LAB_INPUT=xdp the generator is xdpgen (pktgen --xdp):
# its frames are made in the kernel as XDP frames (BPF_PROG_RUN, live frames) and redirected out of
# c0, so d0 receives them in pages with headroom, as from a NIC. d0 gets NAPI from GRO (NIC drivers
# have both) so the kernel's own paths receive them too: without an XDP program, veth builds an
# skb around each frame's page (no copy) and passes it to GRO and the stack. d0's NAPI runs
# threaded on CPU1 (lab_threaded_napi), so d0 needs no RPS.
lab_xdp_input() {
    [ -x "${XDPGEN:-}" ] && [ -s "${XDPGEN_OBJ:-}" ] || {
        echo "LAB_INPUT=xdp needs xdpgen and xdpgen.bpf.o (libbpf-dev and clang; built by scripts/bench)" >&2
        exit 1
    }
    nsx "$NS_D" ethtool -K d0 gro on >/dev/null 2>&1 || true
}

# Threaded NAPI on every lab veth that has NAPI (GRO on, or an XDP program attached: call it after
# the balancer started), each thread pinned to its side's CPU: c0/r1/r2 → CPU0 (SCHED_FIFO, so the
# generator does not starve the sinks), d0/d1/d2 → CPU1 (SCHED_OTHER: the director's XDP work
# and lvsd's workers share CPU1 by the scheduler's fairness).
# The director's NAPI threads are added to DIRECTOR_EXTRA_PIDS (their time is the director's).
# Threads are told apart from other labs' by appearing when this lab's device turned threaded.
lab_threaded_napi() {
    local spec ns ifc cpu before after pid
    for spec in "$NS_C:c0:0" "$NS_R1:r1:0" "$NS_R2:r2:0" "$NS_D:d0:1" "$NS_D:d1:1" "$NS_D:d2:1"; do
        IFS=: read -r ns ifc cpu <<<"$spec"
        before=$(pgrep -d ' ' "^napi/$ifc-" || true)
        nsx "$ns" sh -c "echo 1 > /sys/class/net/$ifc/threaded" 2>/dev/null || continue
        sleep 0.05
        after=$(pgrep -d ' ' "^napi/$ifc-" || true)
        for pid in $after; do
            case " $before " in *" $pid "*) continue ;; esac
            taskset -p -c "$cpu" "$pid" >/dev/null 2>&1 || true
            if [ "$cpu" = 1 ]; then
                DIRECTOR_EXTRA_PIDS="$DIRECTOR_EXTRA_PIDS $pid"
            else
                # The sinks' receive must not share CPU0 fairly with the generator (a busy
                # process): real-time priority, as the softirq it replaces had.
                chrt -f -p 50 "$pid" >/dev/null 2>&1 || true
            fi
        done
    done
}

# DR's return path: a link from each real server straight to the client (the "router" of the
# seeds' DR set-ups), so replies from the VIP never cross the director, whose kernel would drop a
# forwarded packet whose source is one of its own addresses. Work on these links is on CPU0.
#   client cr1 10.0.3.1/30 ── rc 10.0.3.2/30 rs1      client cr2 10.0.4.1/30 ── rc 10.0.4.2/30 rs2
lab_direct_return() {
    local i ns mac_c mac_r
    for i in 1 2; do
        ns=$NS_R1
        [ "$i" = 2 ] && ns=$NS_R2
        ip -n "$NS_C" link add "cr$i" type veth peer name rc netns "$ns"
        ip -n "$NS_C" addr add "10.0.$((i + 2)).1/30" dev "cr$i"
        ip -n "$ns" addr add "10.0.$((i + 2)).2/30" dev rc
        ip -n "$NS_C" link set "cr$i" up
        ip -n "$ns" link set rc up
        ip -n "$ns" route add 10.0.1.0/24 via "10.0.$((i + 2)).1" dev rc
        mac_c=$(mac_of "$NS_C" "cr$i")
        mac_r=$(mac_of "$ns" rc)
        ip -n "$ns" neigh replace "10.0.$((i + 2)).1" lladdr "$mac_c" dev rc nud permanent
        ip -n "$NS_C" neigh replace "10.0.$((i + 2)).2" lladdr "$mac_r" dev "cr$i" nud permanent
        if [ "$LAB_OFFLOADS" = off ]; then
            nsx "$NS_C" ethtool -K "cr$i" tx off tso off gso off gro off >/dev/null 2>&1 || true
            nsx "$ns" ethtool -K rc tx off tso off gso off gro off >/dev/null 2>&1 || true
        fi
        set_rps "$NS_C" "cr$i" 1
        set_rps "$ns" rc 1
    done
    # Replies from the VIP arrive on cr1/cr2 while the route to the VIP is via c0.
    nsx "$NS_C" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.cr1.rp_filter=0 net.ipv4.conf.cr2.rp_filter=0
}

# The real-server side of DR/TUN: VIP on lo, arp_ignore/arp_announce, through the real command
# `lvs-realserver start VIP [--tun]`. If that command does not (yet) configure the namespace, falls
# back to the seeds' manual steps and says so on stderr. $1 = namespace, $2… = extra flags.
rs_vip_on_lo() {
    local ns=$1
    shift
    if [ -x "${LVS_BIN:-}/lvs-realserver" ]; then
        nsx "$ns" "$LVS_BIN/lvs-realserver" start "$VIP" "$@" >>"$LAB_DIR/lvs-realserver.log" 2>&1 || true
    fi
    if ! nsx "$ns" ip -4 addr show dev lo | grep -q "inet $VIP/32"; then
        echo "note: lvs-realserver start $VIP $* did not put the VIP on lo in $ns; using ip/sysctl as the seeds do" >&2
        nsx "$ns" ip addr add "$VIP/32" dev lo
        nsx "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    fi
}

# nftables DNAT balancer on the director: the kernel's conntrack NAT with a round-robin numgen map.
# $1 = l4 protocol (udp|tcp), $2 = port.
setup_nft_dnat() {
    nsx "$NS_D" nft -f - <<EOF
table ip lvsbench_lb {
    chain pre {
        type nat hook prerouting priority dstnat;
        ip daddr $VIP $1 dport $2 dnat to numgen inc mod 2 map { 0 : $RS1, 1 : $RS2 }
    }
}
EOF
}

# A nat table whose one rule never matches: turns on connection tracking for the namespace
# (pitfall 5) and changes nothing else. (An empty nat chain does not: nf_conntrack_count stays 0.)
setup_conntrack_only() {
    nsx "$NS_D" nft -f - <<'EOF'
table ip lvsbench_ct {
    chain pre {
        type nat hook prerouting priority dstnat;
        ip daddr 192.0.2.1 dnat to 192.0.2.2
    }
}
EOF
}

# lvsd on the director, pinned to CPU1, counting its allocations through malloccount.so, with its
# data-plane counters in a file (LVSD_STATS_FILE, rewritten every second). Sets LVSD_PID,
# LVSD_COUNTS, LVSD_STATS; returns 1 (with SKIP_REASON) when lvsd does not come up.
# LVSD_PROGRAM=lvsd-bench runs the data plane's own benchmark build (CMallocCounter linked: its
# statistics then count allocations made inside batches too).
start_lvsd() {
    LVSD_COUNTS="$LAB_DIR/lvsd-malloc-$1.bin"
    LVSD_LOG="$LAB_DIR/lvsd-$1.log"
    LVSD_STATS="$LAB_DIR/lvsd-stats-$1.txt"
    lab_spawn "$NS_D" 1 "$LVSD_LOG" env LD_PRELOAD="$MALLOCCOUNT_SO" LVS_MALLOC_COUNT_FILE="$LVSD_COUNTS" \
        LVSD_STATS_FILE="$LVSD_STATS" LVSD_FAST_PATH="${LVSD_FAST_PATH:-1}" \
        "$LVS_BIN/${LVSD_PROGRAM:-lvsd}" -n -l --http off ${LVSD_ARGS:-}
    LVSD_PID=$LAST_PID
    local i
    for i in $(seq 50); do
        if nsx "$NS_D" "$LVS_BIN/ipvsadm" -Ln >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$LVSD_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    SKIP_REASON="lvsd did not start (log: $(tail -n 2 "$LVSD_LOG" | tr '\n' ' '))"
    return 1
}

# Runs ipvsadm in the director namespace; on failure sets SKIP_REASON and returns 1.
ipvsadm_d() {
    local out
    if ! out=$(nsx "$NS_D" "$LVS_BIN/ipvsadm" "$@" 2>&1); then
        SKIP_REASON="ipvsadm $* failed: $out"
        return 1
    fi
}

# Configures one SwiftLVS virtual service with both real servers, as an operator would.
# $1 = method (dr|nat|tun|fullnat), $2 = -t|-u, $3 = port.
setup_lvs_service() {
    local method=$1 proto=$2 port=$3 flag rport=""
    case $method in
    dr) flag=-g ;;
    nat) flag=-m; rport=":$port" ;;
    tun) flag=-i ;;
    fullnat) flag=--fullnat; rport=":$port" ;;
    esac
    ipvsadm_d -A "$proto" "$VIP:$port" -s rr || return 1
    if [ "$method" = fullnat ]; then ipvsadm_d -P "$proto" "$VIP:$port" -z "$LIP" || return 1; fi
    ipvsadm_d -a "$proto" "$VIP:$port" -r "$RS1$rport" "$flag" -w 1 || return 1
    ipvsadm_d -a "$proto" "$VIP:$port" -r "$RS2$rport" "$flag" -w 1 || return 1
}

# Reads the malloccount file $1: prints "total tid:count tid:count …".
read_malloc_counts() {
    [ -s "$1" ] || { echo "-"; return; }
    od -An -t u8 -v "$1" | tr -s ' \n' ' ' | awk '{
        printf "%s", $2
        for (i = 4; i + 1 <= NF; i += 2) if ($i != 0) printf " %s:%s", $i, $(i + 1)
        printf "\n" }'
}

# A CPU sample: "busy0 total0 busy1 total1 director1" in clock ticks, where director1 is the time
# CPU1 spent in hard and soft interrupts (the kernel's packet work, moved there by RPS) plus the
# user+system time of every process in the director namespace (pinned to CPU1). The machine is
# shared: busy1 includes other programs, director1 does not.
cpu_sample() {
    local procs=0 pid idle=-1
    if [ -n "${NS_D:-}" ]; then
        for pid in $(ip netns pids "$NS_D" 2>/dev/null) $DIRECTOR_EXTRA_PIDS; do
            procs=$((procs + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
        done
    fi
    # CPU1's idle residency in µs (cpuidle), exact where the tick-sampled counters are not.
    if [ -r /sys/devices/system/cpu/cpu1/cpuidle/state0/time ]; then
        idle=$(cat /sys/devices/system/cpu/cpu1/cpuidle/state*/time | awk '{ t += $1 } END { printf "%.0f", t }')
    fi
    awk -v procs="$procs" -v idle="$idle" -v now="$(date +%s%6N)" '$1 == "cpu0" || $1 == "cpu1" { t = 0; for (i = 2; i <= NF; i++) t += $i;
        printf "%d %d ", t - $5 - $6, t; if ($1 == "cpu1") d = $7 + $8 + procs }
        END { printf "%d %s %s\n", d, idle, now }' /proc/stat
}

# Percentages between two cpu_sample outputs: prints "cpu0-busy cpu1-busy director-on-cpu1
# cpu1-busy-exact". The first three come from tick-sampled counters (/proc/stat, /proc/PID/stat).
# With NO_HZ_IDLE and tick accounting (this kernel) a CPU that sleeps between short bursts of
# work is undercounted: the tick is stopped while it idles and often misses the bursts. The last
# figure is exact: wall time minus CPU1's cpuidle residency (-1 without cpuidle). The director's
# figure is capped at CPU1's busy time: a softirq that interrupts a director process is in both
# that process's system time and the softirq column, so without the cap a busy director process
# can count its interrupts twice.
cpu_busy() {
    echo "$1 $2" | awk '{ t1 = $11 - $4 + 0.001; b1 = $10 - $3; d = $12 - $5; if (d > b1) d = b1
        exact = -1; if ($6 >= 0 && $13 >= 0 && $14 > $7) exact = 100 * (1 - ($13 - $6) / ($14 - $7)); if (exact > 100) exact = 100
        printf "%.0f %.0f %.0f %.0f\n", 100 * ($8 - $1) / ($9 - $2 + 0.001), 100 * b1 / t1, 100 * d / t1, exact }'
}

# The machine is shared: waits (up to $1 seconds) until neither CPU is more than $2 % busy over a
# 2 s window, so a measurement does not compete with someone else's build. Sets BACKGROUND to
# "cpu0 % / cpu1 %" of the last window; returns 1 if the machine never got quiet enough.
wait_idle() {
    local limit=$1 threshold=$2 start=$SECONDS s0 s1 b
    while :; do
        s0=$(NS_D="" cpu_sample)
        sleep 2
        s1=$(NS_D="" cpu_sample)
        b=$(cpu_busy "$s0" "$s1")
        BACKGROUND="${b%% *} % / $(echo "$b" | awk '{ print $2 }') %"
        echo "$b" | awk -v t="$threshold" '{ exit !($1 <= t && $2 <= t) }' && return 0
        [ $((SECONDS - start)) -ge "$limit" ] && return 1
        echo "  waiting for a quiet machine (background CPU0/CPU1 busy: $BACKGROUND)" >&2
        sleep 8
    done
}

# Prerequisite check: every named command must exist; prints what to install otherwise.
require_commands() {
    local missing=() c
    for c in "$@"; do command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("$c"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "missing: ${missing[*]}" >&2
        echo "install (Debian 12): apt-get install -y $(printf '%s\n' "${missing[@]}" | sed 's/.*://' | sort -u | tr '\n' ' ')" >&2
        return 1
    fi
}

# nginx real server in namespace $1 (name $2), pinned to CPU0, serving "ok\n" as /f.
start_rs_nginx() {
    local ns=$1 name=$2 dir="$LAB_DIR/$2"
    mkdir -p "$dir/www"
    chmod 755 "$dir" "$dir/www"
    printf 'ok\n' >"$dir/www/f"
    chmod 644 "$dir/www/f"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 9000; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 1000000;
    server {
        listen 80 backlog=4096;
        location / { root $dir/www; }
    }
}
EOF
    lab_spawn "$ns" 0 "$dir/stdout.log" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
}
