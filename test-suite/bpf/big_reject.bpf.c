// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A refused program whose verifier log (some hundreds of KiB) is larger
   than the loader's first log buffer, so the loader must grow it.  */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct
{
  __uint (type, BPF_MAP_TYPE_HASH);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 16);
} big_vals SEC (".maps");

SEC ("xdp")
int
big_reject (struct xdp_md *ctx)
{
  __u64 acc = 0;
#pragma clang loop unroll(full)
  for (int i = 0; i < 1500; i++)
    acc ^= bpf_get_prandom_u32 ();
  __u32 k = (__u32) acc;
  __u64 *v = bpf_map_lookup_elem (&big_vals, &k);
  return *v + acc > 10 ? XDP_DROP : XDP_PASS;
}
