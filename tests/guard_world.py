"""A private world for `bpfrewrite guard` tests: a netns with a veth pair, frames, .data writes.

Everything is named with the test process's pid and a counter, so concurrent runs never share
a name, and everything is removed by the context managers on every exit path.
"""
from __future__ import annotations

import ctypes
import itertools
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bpfrewrite.elf.reader import read_object

REPO = Path(__file__).resolve().parent.parent
ETH_P_TEST = 0x88B5  # IEEE 802 local experimental ethertype: no protocol stack takes it
CLONE_NEWNET = 0x40000000
_counter = itertools.count()


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, capturing text output."""
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


@contextmanager
def veth_netns():
    """(netns name, sender interface, receiver interface); the namespace is deleted afterwards."""
    n = next(_counter)
    ns = f"bpfrw-guard-{os.getpid()}-{n}"
    tx, rx = f"gtx{os.getpid()}{n}"[:15], f"grx{os.getpid()}{n}"[:15]
    run("ip", "netns", "add", ns)
    try:
        # No IPv6: its router and neighbour solicitations would be runs the test did not send.
        for key in ("all", "default"):
            run("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        run("ip", "-n", ns, "link", "add", tx, "type", "veth", "peer", "name", rx)
        run("ip", "-n", ns, "link", "set", tx, "up")
        run("ip", "-n", ns, "link", "set", rx, "up")
        yield ns, tx, rx
    finally:
        run("ip", "netns", "del", ns, check=False)


def sockets_in(ns: str, tx: str, rx: str) -> tuple[socket.socket, socket.socket, bytes]:
    """A raw sender bound to `tx` and a receiver for ETH_P_TEST on `rx`, made inside `ns`.

    setns changes only the calling thread's namespace, so a short-lived thread enters `ns` and
    makes the sockets; they stay in `ns` after the thread is gone.
    """
    out: dict = {}

    def enter() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            send = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            send.bind((tx, 0))
            recv = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_TEST))
            recv.bind((rx, ETH_P_TEST))
            recv.setblocking(False)
            out["socks"] = (send, recv)
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=enter)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    send, recv = out["socks"]
    # /sys/class/net shows the host's namespace; ip -n asks the right one.
    link = json.loads(run("ip", "-n", ns, "-j", "link", "show", rx).stdout)[0]
    return send, recv, bytes.fromhex(link["address"].replace(":", ""))


def frame(dst_mac: bytes, seq: int) -> bytes:
    """A 64-byte frame for ETH_P_TEST; byte 14 (the mark byte) starts at 0."""
    return dst_mac + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", ETH_P_TEST) + bytes(1) + struct.pack("!I", seq) + bytes(45)


def drain(recv: socket.socket) -> list[bytes]:
    """Every frame waiting on the receiver."""
    frames = []
    while True:
        try:
            frames.append(recv.recv(2048))
        except BlockingIOError:
            return frames


class GuardProcess:
    """`bpfrewrite guard ... --format json` in a subprocess, its events read by a thread."""

    def __init__(self, args: list[str], netns: str | None = None) -> None:
        cmd = [sys.executable, "-m", "bpfrewrite", "guard", *args, "--format", "json"]
        if netns is not None:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def wait_for(self, kind: str, timeout: float, **match: object) -> dict | None:
        """The next event of `kind` (matching `match`) within `timeout` s; None if none came."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if event is None:
                self.events.put(None)
                return None
            self.seen.append(event)
            if event["event"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def stop(self, timeout: float = 20) -> tuple[int, str]:
        """SIGTERM, wait; (exit code, stderr); every event read so far is in `seen`."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            if event is not None:
                self.seen.append(event)
        return self.proc.returncode, self.proc.stderr.read()


def data_offsets(obj: Path, section: str) -> dict[str, tuple[int, int]]:
    """{variable: (offset, size)} of a global-data section, from the object's symbols.

    Not from BTF: clang leaves DATASEC offsets 0 and libbpf fills them in from the symbols.
    """
    model = read_object(obj)
    index = next(i for i, sec in enumerate(model.sections) if sec.name == section)
    found = {s.name: (s.value, s.size) for s in model.symbols if s.shndx == index and s.type == 1}  # STT_OBJECT
    assert found, f"{obj}: no variables in {section}"
    return found


def prog_map(prog_id: int, suffix: str) -> int:
    """The id of the map named *`suffix` that loaded program `prog_id` uses."""
    prog = json.loads(run("bpftool", "prog", "show", "id", str(prog_id), "-j").stdout)
    for map_id in prog.get("map_ids", ()):
        info = json.loads(run("bpftool", "map", "show", "id", str(map_id), "-j").stdout)
        if info["name"].endswith(suffix):
            return map_id
    raise AssertionError(f"program {prog_id} has no map *{suffix}")


def read_vars(map_id: int) -> tuple[bytes, dict]:
    """(raw value, bpftool's BTF-formatted variables) of a one-entry global-data map."""
    out = json.loads(run("bpftool", "map", "lookup", "id", str(map_id), "key", "hex", "00", "00", "00", "00", "-j").stdout)
    raw = bytes(int(b, 16) for b in out["value"])
    formatted = {}
    for entry in next(iter(out["formatted"]["value"].values())):
        formatted.update(entry)
    return raw, formatted


def write_vars(map_id: int, offsets: dict[str, tuple[int, int]], **values: int) -> dict:
    """Set u32/u64 variables in a global-data map (read, patch, write back); the formatted result."""
    raw, _ = read_vars(map_id)
    buf = bytearray(raw)
    for name, value in values.items():
        off, size = offsets[name]
        buf[off : off + size] = value.to_bytes(size, "little")
    run("bpftool", "map", "update", "id", str(map_id), "key", "hex", "00", "00", "00", "00",
        "value", "hex", *(f"{b:02x}" for b in buf))  # fmt: skip
    _, formatted = read_vars(map_id)
    for name, value in values.items():
        assert formatted[name] == value, f"{name}: wrote {value}, map has {formatted[name]}"
    return formatted


def leftovers(prog_ids: list[int], settle_s: float = 5.0) -> list[str]:
    """What of these programs the kernel still has: the programs themselves or links to them.

    The kernel frees a closed program after an RCU grace period, so a program seen just after guard
    exits may still be on its way out: look again until none is left or settle_s has passed (a
    leaked fd or link keeps its program for good, so a real leak still shows).
    """
    deadline = time.monotonic() + settle_s
    while True:
        left = _still_there(prog_ids)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def _still_there(prog_ids: list[int]) -> list[str]:
    left = []
    for pid in prog_ids:
        if run("bpftool", "prog", "show", "id", str(pid), check=False).returncode == 0:
            left.append(f"program {pid}")
    links = json.loads(run("bpftool", "link", "show", "-j").stdout or "[]")
    left += [f"link {link['id']} to program {link['prog_id']}" for link in links if link.get("prog_id") in prog_ids]
    return left
