// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A program the verifier must refuse: a loop whose state never changes,
   which the verifier reports as an infinite loop.  */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC ("xdp")
int
loop_forever (struct xdp_md *ctx)
{
  /* The barrier keeps clang from reasoning the loop away.  */
  for (;;)
    {
      asm volatile ("" ::: "memory");
      if (ctx->ingress_ifindex == 0xfffffff)
        break;
    }
  return XDP_PASS;
}
