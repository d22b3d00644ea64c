/* skeleton_getpgid.bpf.c - a raw tracepoint program a libbpf skeleton attaches (tests/test_skeleton.py).
 *
 * Exercises: the ordinary libbpf workflow on a patched object (bpftool gen skeleton, open, load,
 * attach). count_getpgid_calls (19 characters: the kernel keeps 15) runs on every syscall entry
 * (raw_tp/sys_enter: no tracefs needed) but counts only getpgid(2) calls made by target_pid
 * (.rodata, set through the skeleton before load), so it reacts to nothing but the test's own
 * syscalls:
 *   runs    (.bss) +1 on every run for target_pid, in original and twin alike;
 *   calls   (hash map, key 0) +1 on every run for target_pid: lookup, then insert on a miss.
 *
 * Fast-path twin: the lookup and the update are stubbed (NULL, -ENOENT), so the twin counts
 * `runs` but never `calls`: runs == calls means only the original ran; runs == 2 * calls means
 * the twin was attached too.
 *
 * Attach only from a test that calls getpgid itself and sets target_pid to its own pid.
 */
#include <linux/bpf.h>
#include <asm/unistd.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

const volatile __u32 target_pid = 0;
__u64 runs;

SEC("raw_tp/sys_enter")
int count_getpgid_calls(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 key = 0;
	__u64 one = 1, *count;

	/* sys_enter's arguments: struct pt_regs *regs, long id */
	if (ctx->args[1] != __NR_getpgid || (bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	__sync_fetch_and_add(&runs, 1);
	count = bpf_map_lookup_elem(&calls, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	bpf_map_update_elem(&calls, &key, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
