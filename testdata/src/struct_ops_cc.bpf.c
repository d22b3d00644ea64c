/* struct_ops_cc.bpf.c - a TCP congestion control written as struct_ops programs.
 *
 * Exercises: SEC("struct_ops/...") programs that only a struct_ops map (section .struct_ops)
 * references through function-pointer relocations; libbpf gives each such program its
 * attach_btf_id from the map, and the kernel refuses a struct_ops program without one
 * (-524, ENOTSUPP). cong_avoid looks a counter up in a hash map (a site a twin stubs).
 *
 * Fast-path twin: every program gets a twin in its section, and the map gets a twin map
 * `cc_ops__fast` whose members point at the twins, so libbpf can load the twins too. The
 * object is loaded, never attached (registering a congestion control is global).
 * A second map, cc_ops_lite, shares two of the programs: clang writes every DATASEC offset of
 * .struct_ops as 0 (libbpf fills them in from the symbols), so a twin map must find its
 * original's BTF VAR by name, not by offset (bpf_dctcp in the kernel selftests has two maps).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} acks SEC(".maps");

SEC("struct_ops/cc_ssthresh")
__u32 BPF_PROG(cc_ssthresh, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/cc_undo_cwnd")
__u32 BPF_PROG(cc_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/cc_cong_avoid")
void BPF_PROG(cc_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&acks, &key);

	if (n)
		__sync_fetch_and_add(n, acked);
}

SEC(".struct_ops")
struct tcp_congestion_ops cc_ops = {
	.ssthresh = (void *)cc_ssthresh,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.cong_avoid = (void *)cc_cong_avoid,
	.name = "bpfrw_cc",
};

SEC(".struct_ops")
struct tcp_congestion_ops cc_ops_lite = {
	.ssthresh = (void *)cc_ssthresh,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.cong_avoid = (void *)cc_cong_avoid,
	.name = "bpfrw_cc_lite",
};
