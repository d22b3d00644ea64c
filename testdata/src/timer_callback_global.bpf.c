/* timer_callback_global.bpf.c - bpf_timer_set_callback inside a global function.
 *
 * Exercises: bpf_timer_init / bpf_timer_set_callback / bpf_timer_start on a timer in an array
 * map value; the callback is registered from a global subprogram, so the program has more than
 * one subprogram.
 *
 * Fast-path twin: bpf_timer_set_callback must be KEPT. Stubbed, its callback is never visited;
 * the verifier removes it as dead code and jit_subprogs then finds no subprogram for the
 * callback's ld_imm64 ("verifier bug: No program to jit", measured on 6.18). bpf_timer_start
 * is stubbed, so the twin arms nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define CLOCK_BOOTTIME 7
struct elem { struct bpf_timer t; u64 period; u64 ticks; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, u32); __type(value, struct elem); } tm SEC(".maps");

static int tick(void *map, u32 *key, struct elem *e)
{
	e->ticks++;
	bpf_timer_start(&e->t, e->period, 0);
	return 0;
}

/* global helper: (re)arm a timer that was initialised elsewhere */
__noinline int rearm(u32 k, u64 period)
{
	u32 zero = 0;
	/* slot 0 always exists: the verifier knows this lookup cannot fail */
	struct elem *e = bpf_map_lookup_elem(&tm, &zero);
	e->period = period + k;
	if (bpf_timer_set_callback(&e->t, tick))
		return -2;
	return bpf_timer_start(&e->t, period, 0);
}

SEC("tc")
int tc_timer_init(struct __sk_buff *skb)
{
	u32 k = skb->mark & 7;
	struct elem *e = bpf_map_lookup_elem(&tm, &k);
	if (e)
		bpf_timer_init(&e->t, &tm, CLOCK_BOOTTIME);
	return rearm(k, 1000000) ? 2 : 0;
}
char LICENSE[] SEC("license") = "GPL";
