// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* C-source fixture for the include setup: <linux/icmp.h> pulls in
   system headers that a plain -target bpf build cannot find.  Counts
   ICMP echo requests and passes every packet.  */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/icmp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 1);
} icmp_echoes SEC (".maps");

SEC ("xdp")
int
icmp_count (struct xdp_md *ctx)
{
  void *data = (void *) (long) ctx->data;
  void *end = (void *) (long) ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *) (eth + 1) > end || eth->h_proto != bpf_htons (ETH_P_IP))
    return XDP_PASS;
  struct iphdr *ip = (void *) (eth + 1);
  if ((void *) (ip + 1) > end || ip->protocol != IPPROTO_ICMP || ip->ihl != 5)
    return XDP_PASS;
  struct icmphdr *icmp = (void *) (ip + 1);
  if ((void *) (icmp + 1) > end)
    return XDP_PASS;
  if (icmp->type == ICMP_ECHO)
    {
      __u32 k = 0;
      __u64 *v = bpf_map_lookup_elem (&icmp_echoes, &k);
      if (v)
        __sync_fetch_and_add (v, 1);
    }
  return XDP_PASS;
}
