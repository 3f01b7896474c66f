// SPDX-License-Identifier: GPL-2.0
/* rb.bpf.c --- the producer for the C consumer of the ring buffer
   benchmark: one 16-byte event per getpid(2) of the generator into a
   16 MiB ring, like the guile-ebpf side's (emit! ...), with the same
   drop counting.  config[0] is the generator's pid, config[1] the flags
   of bpf_ringbuf_output (BPF_RB_NO_WAKEUP in batch mode).  */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct event
{
  __u64 ts;
  __u32 cpu;
  __u32 pid;
};

struct
{
  __uint (type, BPF_MAP_TYPE_RINGBUF);
  __uint (max_entries, 16 << 20);
} events SEC (".maps");

struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __uint (max_entries, 2);
  __type (key, __u32);
  __type (value, __u64);
} config SEC (".maps");

struct
{
  __uint (type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint (max_entries, 1);
  __type (key, __u32);
  __type (value, __u64);
} dropped SEC (".maps");

SEC ("tracepoint/syscalls/sys_enter_getpid")
int
on_getpid (void *ctx)
{
  __u32 k = 0;
  __u64 *pid = bpf_map_lookup_elem (&config, &k);
  __u64 id = bpf_get_current_pid_tgid ();
  if (!pid || (id >> 32) != *pid)
    return 0;
  k = 1;
  __u64 *flags = bpf_map_lookup_elem (&config, &k);
  struct event e = { bpf_ktime_get_ns (), bpf_get_smp_processor_id (),
                     id >> 32 };
  if (bpf_ringbuf_output (&events, &e, sizeof e, flags ? *flags : 0) < 0)
    {
      k = 0;
      __u64 *d = bpf_map_lookup_elem (&dropped, &k);
      if (d)
        __sync_fetch_and_add (d, 1);
    }
  return 0;
}

char LICENSE[] SEC ("license") = "GPL";
