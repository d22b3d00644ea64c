"""BTF and BTF.ext: parse section bytes into types, strings and records; serialise them back."""
from bpfrewrite.btf.ext import BTFExt, ByteOffset, CoreReloRec, FuncInfoRec, LineInfoRec, line_text
from bpfrewrite.btf.strings import StringTable
from bpfrewrite.btf.types import BTF, BtfKind, BtfType

__all__ = [
    "BTF", "BTFExt", "BtfKind", "BtfType", "ByteOffset", "CoreReloRec", "FuncInfoRec", "LineInfoRec",
    "StringTable", "line_text",
]
