// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* XDP fixture for the loader tests: counts IPv4/UDP packets into a map
   that the test declares with defbpf-map (so the map is shared through
   bpf_map__reuse_fd), and drops the ones sent to drop_port.  Both ports
   are .rodata constants set from Scheme with #:constants.  */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* 0: IPv4/UDP packets seen, 1: sent to count_port, 2: dropped,
   3: runs of xdp_pass_all.  */
struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 4);
} xdp_stats SEC (".maps");

const volatile __u16 count_port = 0;
const volatile __u16 drop_port = 0;

static __always_inline void
bump (__u32 slot)
{
  __u64 *v = bpf_map_lookup_elem (&xdp_stats, &slot);
  if (v)
    __sync_fetch_and_add (v, 1);
}

SEC ("xdp")
int
xdp_count (struct xdp_md *ctx)
{
  void *data = (void *) (long) ctx->data;
  void *end = (void *) (long) ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *) (eth + 1) > end || eth->h_proto != bpf_htons (ETH_P_IP))
    return XDP_PASS;
  struct iphdr *ip = (void *) (eth + 1);
  if ((void *) (ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
    return XDP_PASS;
  struct udphdr *udp = (void *) (ip + 1);
  if ((void *) (udp + 1) > end)
    return XDP_PASS;
  bump (0);
  __u16 dport = bpf_ntohs (udp->dest);
  if (count_port && dport == count_port)
    bump (1);
  if (drop_port && dport == drop_port)
    {
      bump (2);
      return XDP_DROP;
    }
  return XDP_PASS;
}

SEC ("xdp")
int
xdp_pass_all (struct xdp_md *ctx)
{
  bump (3);
  return XDP_PASS;
}
