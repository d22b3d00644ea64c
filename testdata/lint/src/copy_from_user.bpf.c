/* copy_from_user.bpf.c - a sleepable program calling bpf_copy_from_user (lint fixture).
 *
 * non-terminable-helper must report the call at line 21, column 8: the copy may fault pages
 * in, kernel time the program cannot cut short.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char copied[64];
long copy_ret;
__u64 user_addr;

SEC("lsm.s/bpf")
int copy_from_user_prog(void *ctx)
{
	char buf[64];
	long ret;

	/* user_addr is set by user space before the program runs */

	ret = bpf_copy_from_user(buf, sizeof(buf), (void *)user_addr);
	copy_ret = ret;
	if (ret == 0)
		__builtin_memcpy(copied, buf, sizeof(buf));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
