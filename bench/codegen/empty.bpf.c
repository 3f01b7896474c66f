// SPDX-License-Identifier: GPL-2.0
/* The floor of the codegen benchmark: an XDP program that only returns
   XDP_PASS.  What BPF_PROG_TEST_RUN costs around any program.  */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
