/* global_data.bpf.c - .rodata, .data and .bss globals in a "classifier" program.
 *
 * Exercises: global variables in the three data sections libbpf turns into array maps
 * (ld_imm64 with src_reg BPF_PSEUDO_MAP_VALUE and an R_BPF_64_64 relocation against the
 * section symbol or the variable): `const volatile` config in .rodata (frozen, so the
 * verifier knows its values), initialised state in .data, zeroed counters in .bss; plus a
 * string constant in .rodata. Uses the legacy section name SEC("classifier") for tc.
 *
 * Fast-path twin: nothing long-running; no twin needed. The object checks that a rewriter
 * passes data sections and their relocations through untouched.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): first run of a fresh load returns
 * 64 * cfg_mult + cfg_add + pkt_seen = 64 * 3 + 0xe000 + 0x101 = 0xe1c1 (57793); each
 * later run adds 1 (pkt_seen counts runs from 0x100). Returns 0xe0ee (57582) when the packet is
 * shorter than cfg_min_len (14).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 cfg_mult = 3;
const volatile __u32 cfg_add = 0xe000;
const volatile __u32 cfg_min_len = 14;
const char cfg_tag[8] = "bpfrw";

/* Non-zero initial values: zero-initialised globals would land in .bss instead. */
__u64 pkt_seen = 0x100;
__u64 bytes_seen = 1;
__u32 last_len = 1;

__u64 total_runs;
__u32 short_pkts;
char last_tag[8];

SEC("classifier")
int global_data(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	int i;

	total_runs++;
	if (len < cfg_min_len) {
		short_pkts++;
		return 0xe0ee;
	}
	pkt_seen++;
	bytes_seen += len;
	last_len = len;
	for (i = 0; i < sizeof(last_tag); i++)
		last_tag[i] = cfg_tag[i];
	return len * cfg_mult + cfg_add + pkt_seen;
}

char LICENSE[] SEC("license") = "GPL";
