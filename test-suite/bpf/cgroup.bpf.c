// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cgroup fixtures.  cg_skb sits in the generic "cgroup/skb" section, so
   its direction comes from the loader's #:attach-type; it counts the
   UDP packets to count_port and refuses them unless allow is set.
   deny_connect4 refuses connect() to deny_port.  */
#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 2);
} cg_counts SEC (".maps");

const volatile __u16 count_port = 0;
const volatile __u8 allow = 1;
const volatile __u16 deny_port = 0;

SEC ("cgroup/skb")
int
cg_skb (struct __sk_buff *skb)
{
  /* cgroup skb programs see the packet from the IP header on.  */
  struct iphdr ip;
  struct udphdr udp;
  if (skb->protocol != bpf_htons (0x0800)
      || bpf_skb_load_bytes (skb, 0, &ip, sizeof ip) < 0
      || ip.protocol != IPPROTO_UDP
      || bpf_skb_load_bytes (skb, ip.ihl * 4, &udp, sizeof udp) < 0
      || bpf_ntohs (udp.dest) != count_port)
    return 1;
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem (&cg_counts, &k);
  if (v)
    __sync_fetch_and_add (v, 1);
  return allow ? 1 : 0;
}

SEC ("cgroup/connect4")
int
deny_connect4 (struct bpf_sock_addr *ctx)
{
  if (deny_port && ctx->user_port == bpf_htons (deny_port))
    {
      __u32 k = 1;
      __u64 *v = bpf_map_lookup_elem (&cg_counts, &k);
      if (v)
        __sync_fetch_and_add (v, 1);
      return 0;
    }
  return 1;
}
