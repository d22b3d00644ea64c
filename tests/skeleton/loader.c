/* A user's loader for a patched object: the ordinary libbpf skeleton workflow, nothing bpfrewrite-specific.
 *
 * Built by tests/test_skeleton.py against libbpf-dev with the skeleton of a patched
 * testdata/skeleton_getpgid.bpf.o (`bpftool gen skeleton OBJ name patched`). Opens, sets
 * target_pid to its own pid, loads and attaches the skeleton, makes getpgid(2) CALLS times,
 * prints what is loaded and attached (with kernel ids) and what the program counted, waits for a
 * line on stdin (the test inspects the kernel meanwhile), then destroys the skeleton (detach,
 * unload) on every path; exiting closes every fd anyway. With the argument "twin" it first opts the twin in, as the
 * docs tell a user to.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "patched.skel.h"

#define CALLS 5

static void show(struct bpf_program *prog, struct bpf_link *link)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(prog);

	memset(&info, 0, sizeof(info));
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		printf("prog %s loaded=1 attached=%d id=%u kernel_name=%s\n", bpf_program__name(prog), link != NULL,
		       info.id, info.name);
	else
		printf("prog %s loaded=0 attached=%d\n", bpf_program__name(prog), link != NULL);
}

int main(int argc, char **argv)
{
	struct patched *skel;
	__u32 key = 0;
	__u64 calls = 0;
	int err, i;

	skel = patched__open();
	if (!skel) {
		fprintf(stderr, "open failed\n");
		return 1;
	}
	skel->rodata->target_pid = getpid();
	if (argc > 1 && strcmp(argv[1], "twin") == 0)
		bpf_program__set_autoload(skel->progs.count_getpgid_calls__fast, true);
	err = patched__load(skel);
	if (!err)
		err = patched__attach(skel);
	if (err) {
		fprintf(stderr, "load or attach failed: %d\n", err);
		patched__destroy(skel);
		return 1;
	}
	for (i = 0; i < CALLS; i++)
		getpgid(0);
	show(skel->progs.count_getpgid_calls, skel->links.count_getpgid_calls);
	show(skel->progs.count_getpgid_calls__fast, skel->links.count_getpgid_calls__fast);
	bpf_map__lookup_elem(skel->maps.calls, &key, sizeof(key), &calls, sizeof(calls), 0);
	printf("getpgid=%d runs=%llu calls=%llu\n", CALLS, (unsigned long long)skel->bss->runs,
	       (unsigned long long)calls);
	fflush(stdout);
	while ((i = getchar()) != EOF && i != '\n')
		;
	patched__destroy(skel);
	return 0;
}
