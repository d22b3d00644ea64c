"""Lint, patch and load the real-world regression set (build/corpus/, made by benchmarks/corpus/build.py).

Per object: `bpfrewrite lint` and `bpfrewrite patch` (the CLI, in process), then libbpf loads the
input as-is and the patched output with every twin whose original loads by default (a twin that is
autoload-off is switched on). Loads run in a private mount namespace with its own bpffs, so pinned
maps never reach the host's /sys/fs/bpf. Each object is handled in a forked child with a time limit,
so a crash or a hang costs one object, not the run. Prints one row per project and the failure
reasons, grouped; `--markdown` prints the same as tables for docs/benchmarks.md; `--json FILE` keeps
every object's outcome.

Run as root from the repository root: python3 benchmarks/realworld.py [--corpus build/corpus]
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NS_MARK = "BPFREWRITE_REALWORLD_NS"
TWIN_SUFFIX = "__fast"


def enter_private_bpffs() -> None:
    """Re-run this script in a private mount namespace with a fresh bpffs on /sys/fs/bpf."""
    if os.environ.get(NS_MARK):
        return
    env = dict(os.environ, **{NS_MARK: "1"})
    script = ('mount --make-rprivate / && mount -t bpf bpf /sys/fs/bpf && exec "$@"')
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", sys.executable, *sys.argv]
    sys.exit(subprocess.run(cmd, env=env).returncode)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run the bpfrewrite CLI in this process; return (exit code, stderr). A traceback is exit 99."""
    from bpfrewrite import cli

    err = io.StringIO()
    old_argv = sys.argv
    sys.argv = ["bpfrewrite", *argv]
    try:
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # a bug: what the user would see as a traceback
                return 99, f"traceback: {type(exc).__name__}: {exc}"
    finally:
        sys.argv = old_argv
    return code, err.getvalue()


def libbpf_load(path: str, twins: bool) -> tuple[bool, str, int]:
    """Load the object; with twins, switch on every twin whose original is autoloaded.

    Returns (loaded, reason, programs loaded).
    """
    from bpfrewrite.kernel import libbpf

    with libbpf.captured_messages(1 << 20) as messages:
        try:
            obj = libbpf.BpfObject(path)
        except Exception as exc:
            return False, f"open: {exc}", 0
        with obj:
            progs = {p.name: p for p in obj.programs()}
            sections = {name: p.section for name, p in progs.items()}
            if not progs:
                return False, "no programs", 0
            if twins:
                lib = libbpf.library()
                lib.bpf_program__autoload.restype = bool
                lib.bpf_program__autoload.argtypes = [libbpf.ctypes.c_void_p]
                for name, prog in progs.items():
                    original = progs.get(name[: -len(TWIN_SUFFIX)]) if name.endswith(TWIN_SUFFIX) else None
                    if original is not None and lib.bpf_program__autoload(original.handle):
                        prog.set_autoload(True)
            err = obj.load()
            loaded = sum(1 for p in progs.values() if p.fd >= 0)
    if err == 0:
        return True, "", loaded
    return False, load_reason(messages, err, sections), loaded


def load_reason(messages: list[str], err: int, sections: dict[str, str]) -> str:
    """The libbpf/verifier line that says why, with names and numbers masked so reasons group.

    sections maps program names to their ELF sections: a reason about a program is prefixed with
    its section's kind (the part before '/'), since the kind often is the reason (fentry: EPERM).
    """
    lines = [ln.strip() for ln in "".join(messages).splitlines() if ln.strip()]
    verifier = None
    for i, ln in enumerate(lines):
        if "-- BEGIN PROG LOAD LOG --" in ln:
            body = []
            for nxt in lines[i + 1:]:
                if "-- END PROG LOAD LOG --" in nxt:
                    break
                body.append(nxt)
            # The verifier's error is the last line before the "processed N insns" summary.
            for cand in reversed(body):
                if not cand.startswith(("processed ", "verification time", "stack depth", "mark_precise")):
                    verifier = cand
                    break
            break
    noise = ("Retrying without BTF", "-- END", "-- BEGIN", "failed to load object", "failed to load: -")
    causes = [ln for ln in lines if not any(n in ln for n in noise)]
    causes = [ln for ln in causes if "BPF program load failed" in ln] or causes
    if verifier:
        reason = f"verifier: {verifier} ({os.strerror(err)})"
    elif causes:
        reason = causes[0] if "BPF program load failed" in causes[0] else causes[-1]
    else:
        reason = os.strerror(err)
    # libbpf 1.1 prints "ERROR: strerror_r(524)=22" for the kernel-internal ENOTSUPP.
    reason = re.sub(r"ERROR: strerror_r\(-?524\)=-?\d+", "ENOTSUPP", reason).replace("Unknown error 524", "ENOTSUPP")
    prog = next((m.group(1) for ln in lines for m in [re.search(r"prog '([^']+)'", ln)] if m), None)
    kind = sections.get(prog, "").lstrip("?").split("/")[0] if prog else ""
    if "missing BPF prog type" in reason:
        kind = ""  # the section name is the problem and is in the message
    return (f"[{kind}] " if kind else "") + mask(reason)


def mask(text: str) -> str:
    """Replace names, numbers and addresses in a message so equal causes group together."""
    text = re.sub(r"libbpf: ", "", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\b0x[0-9a-f]+\b", "N", text)
    text = re.sub(r"-?\b\d+\b", "N", text)
    text = re.sub(r"\bR\d\b", "Rn", text)
    return text[:160]


def examine(path: str, tmpdir: str, progress=lambda out: None) -> dict:
    """Lint, patch and load one object; return its outcome (progress(outcome so far) between steps)."""
    out: dict = {"object": path}
    code, err = run_cli(["lint", "--fail-on", "never", "--format", "json", path])
    out["lint"] = code == 0
    if code:
        out["lint_error"] = first_line(err)
    patched = os.path.join(tmpdir, "patched.o")
    code, err = run_cli(["patch", path, patched])
    out["patch"] = code == 0 and os.path.exists(patched)
    if not out["patch"]:
        out["patch_error"] = first_line(err) or f"exit {code}"
    progress(out)
    _load(out, "", path, twins=False)
    progress(out)
    if out["patch"]:
        _load(out, "patched_", patched, twins=True)
    return out


def _load(out: dict, prefix: str, path: str, twins: bool) -> None:
    """Load path through libbpf in a fresh bpffs; record PREFIXloads, PREFIXprograms_loaded, PREFIXload_error."""
    fresh_bpffs()
    ok, reason, n = libbpf_load(path, twins=twins)
    out[prefix + "loads"] = ok
    out[prefix + "programs_loaded"] = n
    if not ok:
        out[prefix + "load_error"] = reason


def first_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("bpfrewrite: warning")]
    return lines[0].replace("bpfrewrite: error: ", "") if lines else ""


CLONE_NEWNS = 0x00020000


def private_mounts() -> None:
    """Give this (forked) process its own mount namespace, so each load can have a fresh bpffs."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


def fresh_bpffs() -> None:
    """Mount an empty bpffs on /sys/fs/bpf (in this process's namespace): objects that pin maps by
    name would otherwise reuse the pins of the previous load, or of another object."""
    subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)


def _child(path: str, conn) -> None:
    private_mounts()
    with tempfile.TemporaryDirectory(prefix="realworld-") as tmp:
        try:
            conn.send(dict(examine(path, tmp, lambda out: conn.send(dict(out, partial=True)))))
        except BaseException as exc:
            conn.send({"object": path, "crash": f"{type(exc).__name__}: {exc}"})


def examine_all(paths: list[str], jobs: int, timeout: float, done) -> None:
    """examine() each path in a forked child, jobs at a time; done(outcome) in completion order.

    A child that crashes (a segfault in libbpf) or outlives timeout is recorded, not fatal.
    """
    from multiprocessing.connection import wait

    from bpfrewrite import cli  # noqa: F401  imported once here, not in every child
    from bpfrewrite.kernel import libbpf  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    todo = list(reversed(paths))
    running: dict = {}  # connection -> (process, path, started)
    partial: dict = {}  # connection -> the outcome so far
    while todo or running:
        while todo and len(running) < jobs:
            path = todo.pop()
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(path, child))
            proc.start()
            child.close()
            running[parent] = (proc, path, time.monotonic())
        for conn in wait(list(running), timeout=1.0):
            proc, path, started = running[conn]
            try:
                outcome = conn.recv()
            except EOFError:
                proc.join()
                outcome = dict(partial.pop(conn, {"object": path}), crash=f"child died (exit {proc.exitcode})")
            if outcome.pop("partial", False):
                partial[conn] = outcome  # lint and patch are done: a later timeout keeps them
                continue
            del running[conn]
            partial.pop(conn, None)
            proc.join()
            done(outcome)
        now = time.monotonic()
        for conn, (proc, path, started) in list(running.items()):
            if now - started > timeout:
                proc.kill()
                proc.join()
                del running[conn]
                outcome = partial.pop(conn, {"object": path})
                step = "loading the patched object" if "loads" in outcome else \
                    "loading the input" if "patch" in outcome else "lint or patch"
                done(dict(outcome, timeout=f"{step} took over {timeout:.0f} s"))


def has_programs(path: str) -> bool:
    """Whether libbpf finds at least one program in the object (the set the goals speak of)."""
    from bpfrewrite.kernel import libbpf

    with libbpf.captured_messages():
        try:
            with libbpf.BpfObject(path) as obj:
                return bool(obj.programs())
        except Exception:
            return False


def summarise(results: dict[str, list[dict]]) -> tuple[list[tuple], dict[str, Counter]]:
    """Rows per project and reasons per failure kind."""
    rows = []
    reasons: dict[str, Counter] = defaultdict(Counter)
    totals = Counter()
    for project, outcomes in sorted(results.items()):
        c = Counter()
        for o in outcomes:
            c["objects"] += 1
            if o.get("no_programs"):
                c["no programs"] += 1
                continue
            if "crash" in o:
                reasons["crash"][mask(o["crash"])] += 1
            if "timeout" in o:
                reasons["timeout"][o["timeout"]] += 1
            c["lint"] += o.get("lint", False)
            c["patch"] += o.get("patch", False)
            c["loads"] += o.get("loads", False)
            if o.get("lint") is False:
                reasons["lint"][mask(o["lint_error"])] += 1
            if o.get("patch") is False:
                reasons["patch"][mask(o["patch_error"])] += 1
            if o.get("loads") is False:
                reasons["input does not load"][o["load_error"]] += 1
            if o.get("loads"):
                good = o.get("patched_loads", False)
                c["patched_loads"] += good
                if o["patch"] and "patched_load_error" in o:
                    reasons["loads as-is, patched does not"][o["patched_load_error"]] += 1
        totals.update(c)
        rows.append((project, c))
    rows.append(("total", totals))
    return rows, reasons


def render(rows, reasons, markdown: bool) -> str:
    head = ("project", "objects", "no program", "lint ok", "patch ok", "load as-is", "load patched, all twins")
    table = [head] + [
        (name, str(c["objects"]), str(c["no programs"]), str(c["lint"]), str(c["patch"]), str(c["loads"]),
         f"{c['patched_loads']} / {c['loads']}") for name, c in rows]
    lines = []
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|---|" + "---:|" * (len(head) - 1))
        lines += ["| " + " | ".join(r) + " |" for r in table[1:]]
    else:
        widths = [max(len(r[i]) for r in table) for i in range(len(head))]
        lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                  for r in table]
    for kind, counter in sorted(reasons.items()):
        lines.append("")
        lines.append(f"{'**' if markdown else ''}{kind}{'**' if markdown else ''} "
                     f"({sum(counter.values())} objects):")
        if markdown:
            lines.append("")
        for reason, n in counter.most_common():
            lines.append(f"{'- ' if markdown else '  '}{n:4} {'`' if markdown else ''}{reason}"
                         f"{'`' if markdown else ''}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus")
    parser.add_argument("--project", action="append", help="only this project (repeatable)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per object")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="objects examined at once (at most 2)")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--json", type=Path, help="write every object's outcome here")
    parser.add_argument("--scan", action="store_true", help="examine the objects on disk, not the manifest's list")
    parser.add_argument("--resume", type=Path, help="outcomes of an earlier run (--json): keep them, examine the rest")
    parser.add_argument("objects", nargs="*", help="only these objects (paths under the corpus)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("realworld.py: loading BPF needs root", file=sys.stderr)
        return 2
    enter_private_bpffs()
    if args.scan:  # what is on disk now (a build may still be running)
        listing = {d.name: sorted(str(p.relative_to(args.corpus)) for p in d.glob("*.o"))
                   for d in sorted((args.corpus / "objs").iterdir()) if d.is_dir()}
    else:
        manifest = json.loads((args.corpus / "manifest.json").read_text())
        listing = {name: entry["objects"] for name, entry in manifest["projects"].items()}
    results: dict[str, list[dict]] = {}
    seen: set[str] = set()
    if args.resume and args.resume.exists():
        results = json.loads(args.resume.read_text())
        seen = {o["object"] for outcomes in results.values() for o in outcomes}
    start = time.monotonic()
    project_of: dict[str, str] = {}
    paths = []
    for project, objects in sorted(listing.items()):
        if args.project and project not in args.project:
            continue
        for rel in objects:
            if rel in seen:
                continue
            path = str(args.corpus / rel)
            if args.objects and rel not in args.objects and path not in args.objects:
                continue
            if not os.path.exists(path):
                print(f"realworld.py: {path} is in the manifest but missing: rebuild the corpus", file=sys.stderr)
                return 2
            results.setdefault(project, [])
            if not has_programs(path):  # e.g. BTF-only test inputs: counted, not examined
                results[project].append({"object": rel, "no_programs": True})
                continue
            project_of[path] = project
            paths.append(path)

    def done(outcome: dict) -> None:
        path = outcome["object"]
        outcome["object"] = os.path.relpath(path, args.corpus)
        results[project_of[path]].append(outcome)
        print(json.dumps(outcome), file=sys.stderr, flush=True)

    examine_all(paths, max(1, min(args.jobs, 2)), args.timeout, done)
    for outcomes in results.values():
        outcomes.sort(key=lambda o: o["object"])
    rows, reasons = summarise(results)
    print(render(rows, reasons, args.markdown), end="")
    print(f"({time.monotonic() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
