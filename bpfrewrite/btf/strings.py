"""The BTF string table: NUL-terminated strings addressed by byte offset, kept byte for byte."""
from __future__ import annotations

from bpfrewrite.errors import BpfrewriteError

# Names are ASCII in practice; surrogateescape keeps any other byte round-trippable through str.
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


class StringTable:
    """A BTF string section; offsets handed out stay valid because strings are only appended."""

    def __init__(self, data: bytes = b"\0") -> None:
        """Wrap the raw string section bytes (must start and end with NUL)."""
        if not data or data[0] != 0 or data[-1] != 0:
            raise BpfrewriteError("BTF string table must start and end with a NUL byte")
        self._data = bytearray(data)
        self._index: dict[bytes, int] | None = None
        self._decoded: dict[int, str] = {}  # offset -> string; line info repeats offsets a lot

    def __len__(self) -> int:
        """Size of the table in bytes."""
        return len(self._data)

    def to_bytes(self) -> bytes:
        """The table as it would be written."""
        return bytes(self._data)

    def contains(self, off: int) -> bool:
        """True if off points inside the table."""
        return 0 <= off < len(self._data)

    def get(self, off: int) -> str:
        """The string starting at byte offset off."""
        got = self._decoded.get(off)
        if got is not None:
            return got
        if not self.contains(off):
            raise BpfrewriteError(f"BTF string offset {off} is outside the string table ({len(self._data)} bytes)")
        end = self._data.index(0, off)  # the table ends in NUL, so this always finds one
        got = self._decoded[off] = self._data[off:end].decode(_ENCODING, _ERRORS)
        return got

    def add(self, s: str) -> int:
        """Offset of s in the table, appending it unless an identical string already exists."""
        raw = s.encode(_ENCODING, _ERRORS)
        if b"\0" in raw:
            raise BpfrewriteError(f"BTF string {s!r} contains a NUL byte")
        index = self._string_index()
        off = index.get(raw)
        if off is None:
            off = len(self._data)
            self._data += raw + b"\0"
            index[raw] = off
        return off

    def _string_index(self) -> dict[bytes, int]:
        # Built on first add(): parsing must not pay for it, and only whole strings are reused
        # (first occurrence wins) so existing offsets never change meaning.
        if self._index is None:
            self._index = {}
            start = 0
            for end, byte in enumerate(self._data):
                if byte == 0:
                    self._index.setdefault(bytes(self._data[start:end]), start)
                    start = end + 1
        return self._index
