// VRRP on Linux: raw sockets, AF_PACKET, rtnetlink and child processes behind LVSVRRP's seams.
@_exported import LVSVRRP
