# memory.py --- the memory benchmark's bcc side (python3-bpfcc).
#
# python3 memory.py MODE [IFACE]
#
# MODE policy: what memory.scm applies -- a getpid counter on the
#   tracepoint syscalls/sys_enter_getpid, an XDP program on IFACE (generic
#   mode) dropping TCP SYNs from blocklisted IPv4 sources, and its maps.
# MODE counter: only the tracepoint counter and its map.
#
# Prints "ready" once everything is attached, then idles until its
# standard input ends, detaches and exits.
import ctypes
import socket
import struct
import sys

from bcc import BPF

mode = sys.argv[1]
iface = sys.argv[2] if len(sys.argv) > 2 else None

counter = """
BPF_ARRAY(syscalls, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    syscalls.atomic_increment(0);
    return 0;
}
"""

xdp = """
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>

BPF_HASH(blocklist, u32, u64, 1024);
BPF_PERCPU_ARRAY(verdicts, u64, 2);

int drop_blocked_syn(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip;
    struct tcphdr *tcp;
    u32 src;

    if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP))
        goto pass;
    ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
        goto pass;
    tcp = (void *)ip + ip->ihl * 4;
    if ((void *)(tcp + 1) > end)
        goto pass;
    src = ip->saddr;
    if (tcp->syn && !tcp->ack && blocklist.lookup(&src)) {
        verdicts.increment(1);
        return XDP_DROP;
    }
pass:
    verdicts.increment(0);
    return XDP_PASS;
}
"""

b = BPF(text=counter + (xdp if mode == "policy" else ""))
if mode == "policy":
    fn = b.load_func("drop_blocked_syn", BPF.XDP)
    b.attach_xdp(iface, fn, BPF.XDP_FLAGS_SKB_MODE)
    addr = struct.unpack("=I", socket.inet_aton("192.0.2.1"))[0]
    b["blocklist"][ctypes.c_uint32(addr)] = ctypes.c_uint64(1)
print("ready", flush=True)
try:
    for _ in sys.stdin:
        pass
finally:
    if mode == "policy":
        b.remove_xdp(iface, BPF.XDP_FLAGS_SKB_MODE)
