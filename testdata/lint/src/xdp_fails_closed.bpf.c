/* xdp_fails_closed.bpf.c - XDP programs whose fast-path twins fail closed and open (lint fixture).
 *
 * The config lookup is tested for NULL, so the twin stubs it to NULL and takes that path.
 * twin-fails-closed must report fail_closed at `if (!cfg)` (line 32), the test its twin always
 * takes to `return XDP_ABORTED`: the twin can only abort where the program passes. fail_open has
 * an explicit fail-open path and must not be reported. Both load; BPF_PROG_TEST_RUN (64 zero bytes, fresh maps): fail_closed
 * returns 2 (XDP_PASS) and its twin 0 (XDP_ABORTED); fail_open and its twin return 2.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct fc_config {
	__u64 seen;
	__u32 drop_all;
};

/* An array: the lookup finds the (zeroed) entry in the original, so it passes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fc_config);
} fc_config SEC(".maps");

SEC("xdp")
int fail_closed(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct fc_config *cfg;

	cfg = bpf_map_lookup_elem(&fc_config, &key);
	if (!cfg)
		return XDP_ABORTED;
	cfg->seen++;
	if (cfg->drop_all)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int fail_open(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct fc_config *conf;

	conf = bpf_map_lookup_elem(&fc_config, &key);
	if (!conf)
		return XDP_PASS; /* fail open: no config, let traffic through */
	conf->seen++;
	if (conf->drop_all)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
