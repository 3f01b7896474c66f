// SPDX-License-Identifier: GPL-2.0
/* The start-up benchmark's libbpf side: count the getpid calls of one
   process (its tgid, set before load in the constant target_pid) in
   element 0 of the array map `counts'.  Built once with clang by
   bench/startup/run; the loader (loader.c) opens the built object.  */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

const volatile __u32 target_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	__u32 key = 0;
	__u64 *count;

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	count = bpf_map_lookup_elem(&counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
