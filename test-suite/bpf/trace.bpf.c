// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Tracing fixtures for the loader tests: each program counts the
   getpid() calls of one process (target_tgid, a .rodata constant) in its
   own slot of trace_counts, which the test declares with defbpf-map.  */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define NR_GETPID 39            /* x86_64 */

/* 0 tracepoint, 1 its attach cookie, 2 raw tracepoint, 3 tp_btf,
   4 uprobe, 5 uretprobe.  */
struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 8);
} trace_counts SEC (".maps");

const volatile __u32 target_tgid = 0;

static __always_inline int
ours (void)
{
  return (bpf_get_current_pid_tgid () >> 32) == target_tgid;
}

static __always_inline void
bump (__u32 slot)
{
  __u64 *v = bpf_map_lookup_elem (&trace_counts, &slot);
  if (v)
    __sync_fetch_and_add (v, 1);
}

SEC ("tracepoint/syscalls/sys_enter_getpid")
int
tp_getpid (void *ctx)
{
  if (!ours ())
    return 0;
  bump (0);
  __u32 slot = 1;
  __u64 cookie = bpf_get_attach_cookie (ctx);
  bpf_map_update_elem (&trace_counts, &slot, &cookie, BPF_ANY);
  return 0;
}

SEC ("raw_tracepoint/sys_enter")
int
raw_getpid (struct bpf_raw_tracepoint_args *ctx)
{
  if (ctx->args[1] == NR_GETPID && ours ())
    bump (2);
  return 0;
}

SEC ("tp_btf/sys_enter")
int
btf_getpid (__u64 *ctx)
{
  /* sys_enter (struct pt_regs *regs, long id) */
  if ((long) ctx[1] == NR_GETPID && ours ())
    bump (3);
  return 0;
}

SEC ("uprobe")
int
uprobe_getpid (struct pt_regs *ctx)
{
  if (ours ())
    bump (4);
  return 0;
}

SEC ("uretprobe")
int
uretprobe_getpid (struct pt_regs *ctx)
{
  if (ours ())
    bump (5);
  return 0;
}
