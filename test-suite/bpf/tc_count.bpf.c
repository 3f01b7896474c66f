// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* TC fixture for the loader tests: counts IPv4/UDP packets to
   count_port seen at the hook and shoots the ones to drop_port.  */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* 0: packets to count_port, 1: shot.  */
struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 2);
} tc_stats SEC (".maps");

const volatile __u16 count_port = 0;
const volatile __u16 drop_port = 0;

static __always_inline void
bump (__u32 slot)
{
  __u64 *v = bpf_map_lookup_elem (&tc_stats, &slot);
  if (v)
    __sync_fetch_and_add (v, 1);
}

SEC ("tc")
int
tc_count (struct __sk_buff *skb)
{
  void *data = (void *) (long) skb->data;
  void *end = (void *) (long) skb->data_end;
  struct ethhdr *eth = data;
  if ((void *) (eth + 1) > end || eth->h_proto != bpf_htons (ETH_P_IP))
    return TC_ACT_OK;
  struct iphdr *ip = (void *) (eth + 1);
  if ((void *) (ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
    return TC_ACT_OK;
  struct udphdr *udp = (void *) (ip + 1);
  if ((void *) (udp + 1) > end)
    return TC_ACT_OK;
  __u16 dport = bpf_ntohs (udp->dest);
  if (count_port && dport == count_port)
    bump (0);
  if (drop_port && dport == drop_port)
    {
      bump (1);
      return TC_ACT_SHOT;
    }
  return TC_ACT_OK;
}
