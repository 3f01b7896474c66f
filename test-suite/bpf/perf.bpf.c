// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* perf_event fixture: counts the samples of a CPU clock event.  */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __type (key, __u32);
  __type (value, __u64);
  __uint (max_entries, 1);
} perf_samples SEC (".maps");

SEC ("perf_event")
int
on_sample (struct bpf_perf_event_data *ctx)
{
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem (&perf_samples, &k);
  if (v)
    __sync_fetch_and_add (v, 1);
  return 0;
}
