/* failure_value_stored.bpf.c - results of calls the fast path stubs, stored where user space
 * reads them (lint fixture; the verifier accepts the program).
 *
 * In the twin, bpf_get_stackid returns -EINVAL and bpf_map_update_elem -E2BIG without doing
 * anything: the ring buffer record gets stackid -22 and the global last_update_err -7, values
 * the original program would only produce on a real failure. stubbed-value-stored must report
 * both stores. The delete's result is only tested, so it is not reported.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__s64 stackid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 128);
	__type(key, __u32);
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

long last_update_err;
__u64 deleted;

SEC("tracepoint/syscalls/sys_enter_write")
int record_write(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1;
	struct event *e;

	last_update_err = bpf_map_update_elem(&seen, &pid, &one, BPF_ANY);
	if (bpf_map_delete_elem(&seen, &pid) == 0)
		deleted++;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->stackid = bpf_get_stackid(ctx, &stacks, 0);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
