// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A program the verifier must refuse: it dereferences a map lookup
   without checking it for NULL.  The #line directives stand for the
   ones generated code carries, pointing at Scheme source.  */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct
{
  __uint (type, BPF_MAP_TYPE_HASH);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 16);
} reject_vals SEC (".maps");

SEC ("xdp")
int
reject_null (struct xdp_md *ctx)
{
  __u32 k = ctx->ingress_ifindex;
#line 3 "policy.scm"
  __u64 *v = bpf_map_lookup_elem (&reject_vals, &k);
#line 4 "policy.scm"
  return *v > 10 ? XDP_DROP : XDP_PASS;
}
