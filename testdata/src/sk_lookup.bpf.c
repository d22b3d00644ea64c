/* sk_lookup.bpf.c - socket lookup with a reference that must be released.
 *
 * Exercises: bpf_sk_lookup_tcp (helper 84) returning a referenced, maybe-NULL
 * struct bpf_sock pointer, and bpf_sk_release (86) on the found path. The tuple is
 * 127.0.0.1:0 -> 127.0.0.1:lookup_port (port from .data), looked up in the current
 * network namespace.
 *
 * Fast-path twin: replace `call bpf_sk_lookup_tcp` by `r0 = 0` (the NULL path exists and
 * releases nothing); bpf_sk_release is then unreachable.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0xa1ee (41454) when no socket matched (the usual
 * case in the test-run namespace), 0xa100 (41216) when a listener on lookup_port was
 * found and released.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

__u16 lookup_port = 9;

SEC("tc")
int sk_lookup_tcp(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;

	tuple.ipv4.saddr = bpf_htonl(0x7f000001);
	tuple.ipv4.daddr = bpf_htonl(0x7f000001);
	tuple.ipv4.dport = bpf_htons(lookup_port);
	sk = bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0xa1ee;
	bpf_sk_release(sk);
	return 0xa100;
}

char LICENSE[] SEC("license") = "GPL";
