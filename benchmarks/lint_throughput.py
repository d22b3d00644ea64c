"""Lint throughput (instructions per second) on a ~100,000-instruction object, beside llvm-objdump-19.

    python benchmarks/lint_throughput.py [OBJECT.o]

Without an argument an object is generated: many tc programs mixing arithmetic, map lookups
(tested), a bpf_loop with a callback and a counted loop, so every rule has work to do. The time
covers reading the object and running every rule; llvm-objdump-19 -d on the same object is the
yardstick (it only decodes and prints).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

_HEADER = """\
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } tbl SEC(".maps");
__u64 sink;
static long step(__u32 i, void *ctx) { *(__u64 *)ctx += i; return 0; }
"""

_PROG = """\
SEC("tc")
int prog_{n}(struct __sk_buff *skb)
{{
	__u64 acc = skb->len + {n};
	__u32 key = skb->mark & 63;
	__u64 *v;
	int i;
{body}
	v = bpf_map_lookup_elem(&tbl, &key);
	if (v)
		acc += *v;
	bpf_loop(skb->len, step, &acc, 0);
#pragma clang loop unroll(disable)
	for (i = 0; i < 16; i++)
		acc = acc * 7 + i;
	sink = acc;
	return 0;
}}
"""


def generate(directory: Path, target_insns: int = 100_000) -> Path:
    """Compile a generated C file into an object of about target_insns instructions."""
    stmts = "\n".join(f"\tacc = (acc ^ (acc >> {s % 13 + 1})) * {2 * s + 3} + skb->protocol;" for s in range(60))
    programs = max(1, target_insns // 330)  # about 330 instructions per program with this body
    src = directory / "bench.bpf.c"
    src.write_text(_HEADER + "\n".join(_PROG.format(n=n, body=stmts) for n in range(programs)) + 'char LICENSE[] SEC("license") = "GPL";\n')
    obj = directory / "bench.bpf.o"
    subprocess.run(
        ["clang-19", "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu", "-c", str(src), "-o", str(obj)],
        check=True,
    )
    return obj


def main() -> None:
    from bpfrewrite.elf.reader import read_object
    from passes.rules.runner import lint_object

    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(sys.argv[1]) if len(sys.argv) > 1 else generate(Path(tmp))
        t0 = time.perf_counter()
        model = read_object(obj)
        t1 = time.perf_counter()
        diags = lint_object(model)
        t2 = time.perf_counter()
        insns = sum(f.count for f in model.functions)
        t3 = time.perf_counter()
        subprocess.run(["llvm-objdump-19", "-d", str(obj)], check=True, stdout=subprocess.DEVNULL)
        t4 = time.perf_counter()
    total = t2 - t0
    print(f"object: {obj.name}, {insns} instructions, {len(model.functions)} functions, {len(diags)} diagnostics")
    print(f"bpfrewrite lint: {total:.2f} s ({insns / total:,.0f} insns/s; read {t1 - t0:.2f} s, rules {t2 - t1:.2f} s)")
    print(f"llvm-objdump-19 -d: {t4 - t3:.2f} s ({insns / (t4 - t3):,.0f} insns/s)")


if __name__ == "__main__":
    main()
