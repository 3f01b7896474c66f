// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Programs some kernels refuse: trampolines (fentry, lsm) and kprobes.
   The loader tests check that the refusal is explained.  */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC ("fentry/do_sys_openat2")
int
fentry_open (void *ctx)
{
  return 0;
}

SEC ("lsm/file_open")
int
lsm_open (void *ctx)
{
  return 0;
}

SEC ("kprobe/do_sys_openat2")
int
kprobe_open (void *ctx)
{
  return 0;
}
