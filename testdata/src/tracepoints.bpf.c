/* tracepoints.bpf.c - a classic tracepoint and a raw tracepoint program.
 *
 * Exercises two more program types, each in its own section:
 *   tp_nanosleep  SEC("tracepoint/syscalls/sys_enter_nanosleep"): reads ctx->id and
 *                 ctx->args[0] through struct trace_event_raw_sys_enter from vmlinux.h,
 *                 which carries preserve_access_index, so the loads get CO-RE relocations.
 *   raw_sys_enter SEC("raw_tp/sys_enter"): reads the syscall number from
 *                 bpf_raw_tracepoint_args and counts syscalls in a hash map
 *                 (lookup, then update with BPF_NOEXIST on a miss).
 *
 * Fast-path twin: nothing long-running; no twin needed.
 *
 * Load only (tracepoint programs have no BPF_PROG_TEST_RUN; raw_tp needs ctx_in); never
 * attach them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u64);
	__type(value, __u64);
} syscall_counts SEC(".maps");

__u64 last_request;
__u64 last_id;

SEC("tracepoint/syscalls/sys_enter_nanosleep")
int tp_nanosleep(struct trace_event_raw_sys_enter *ctx)
{
	last_id = ctx->id;
	last_request = ctx->args[0];
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 nr = ctx->args[1];
	__u64 one = 1, *count;

	count = bpf_map_lookup_elem(&syscall_counts, &nr);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	bpf_map_update_elem(&syscall_counts, &nr, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
