#!/bin/sh
# Seed 000's lvs_nat.sh: a NAT virtual service on the director, as the tutorial writes it.
# With SwiftLVS, lvsd must be running in the director's network namespace (systemctl start lvsd).
ipvsadm -C
ipvsadm -A -t 192.168.1.109:80 -s rr
ipvsadm -a -t 192.168.1.109:80 -r 192.168.0.112:80 -m
ipvsadm -a -t 192.168.1.109:80 -r 192.168.0.113:80 -m
ipvsadm -Ln
