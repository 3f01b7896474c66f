// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Socket filter fixture: keeps every packet, or none when the drop
   constant is set.  sock_seen is not declared from Scheme, so libbpf
   creates it privately for the object.  */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 1);
} sock_seen SEC (".maps");

const volatile __u8 drop = 0;

SEC ("socket")
int
sock_filter (struct __sk_buff *skb)
{
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem (&sock_seen, &k);
  if (v)
    __sync_fetch_and_add (v, 1);
  return drop ? 0 : skb->len;
}
