// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* C-source fixture: includes a C library header, which a BPF program
   cannot use; the build must explain that.  */
#include <stdio.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC ("xdp")
int
pass_all (struct xdp_md *ctx)
{
  return XDP_PASS;
}
