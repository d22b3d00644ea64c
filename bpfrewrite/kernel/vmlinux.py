"""What the running kernel's BTF says about a function the helper/kfunc table does not know.

Read only when the table is silent about a call, from /sys/kernel/btf/vmlinux with the project's
own BTF reader, once per process (about 2.5 s of CPU for ~126,000 types on kernel 6.18). A kfunc
is a FUNC with a `bpf_kfunc` DECL_TAG (emitted for `__bpf_kfunc` functions by pahole >= 1.26);
module BTF is not read. The facts describe a call; they never decide a rewrite (the table does).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
_KFUNC_TAG = "bpf_kfunc"


@dataclass(frozen=True)
class KernelFunc:
    """A function of the running kernel, as its BTF describes it."""

    name: str
    is_kfunc: bool  # tagged bpf_kfunc: a BPF program may call it
    returns: str  # "void", "int", "pointer", or the kind of the return type ("struct", ...)


@dataclass(frozen=True)
class KernelBtf:
    """The running kernel's functions by name (None when its BTF cannot be read, with why)."""

    funcs: dict[str, KernelFunc] | None
    why: str | None = None

    def describe(self, name: str) -> str:
        """A few words on name for a message: what the kernel says it is."""
        if self.funcs is None:
            return f"kernel BTF not read: {self.why}"
        func = self.funcs.get(name)
        if func is None:
            return "not in this kernel's BTF"
        what = "a kfunc of this kernel" if func.is_kfunc else "a kernel function not marked as a kfunc"
        return f"{what}, returns {func.returns}"


@functools.cache
def kernel_btf(path: Path = VMLINUX_BTF) -> KernelBtf:
    """The functions of the kernel BTF at path, read once per process."""
    from bpfrewrite.btf.types import BTF, BtfKind
    from bpfrewrite.errors import BpfrewriteError

    try:
        btf = BTF.parse(path.read_bytes())
    except OSError as exc:
        return KernelBtf(None, f"{path}: {exc.strerror}")
    except BpfrewriteError as exc:
        return KernelBtf(None, f"{path}: {exc}")
    tagged = {t.size_or_type for t in btf.types if t.kind == BtfKind.DECL_TAG and t.name == _KFUNC_TAG
              and t.component_idx == -1}
    funcs = {}
    for type_id, t in enumerate(btf.types):
        if t.kind == BtfKind.FUNC and t.name not in funcs:
            funcs[t.name] = KernelFunc(t.name, type_id in tagged, _return_kind(btf, t.size_or_type))
    return KernelBtf(funcs)


def _return_kind(btf, proto_id: int) -> str:
    from bpfrewrite.btf.types import BtfKind

    if not 0 < proto_id < len(btf.types) or btf.types[proto_id].kind != BtfKind.FUNC_PROTO:
        return "unknown"
    type_id = btf.types[proto_id].size_or_type
    qualifiers = (BtfKind.TYPEDEF, BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT, BtfKind.TYPE_TAG)
    for _ in range(32):  # a qualifier chain; a cycle in corrupt BTF must not loop forever
        if type_id == 0:
            return "void"
        if not 0 < type_id < len(btf.types):
            return "unknown"
        t = btf.types[type_id]
        if t.kind not in qualifiers:
            break
        type_id = t.size_or_type
    kind = btf.types[type_id].kind
    if kind == BtfKind.PTR:
        return "pointer"
    if kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
        return "int"
    return kind.name.lower()
