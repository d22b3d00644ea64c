"""Build the real-world regression set: BPF objects nobody here wrote, compiled into build/corpus/.

Sources are never committed. They come from the Debian package linux-source-6.12 (the kernel's BPF
selftests) and from bare git mirrors of public projects (one `OWNER+NAME/repo` git directory per
project under --mirror, e.g. made by `git clone --mirror URL OWNER+NAME/repo`), unpacked with
`git archive`. Each candidate C file is compiled on its own with clang-19; a file that does not
compile is recorded, not fatal. The result, build/corpus/manifest.json, lists every object and
every failure with its first error line. See docs/benchmarks.md ("Real-world objects").
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "build" / "corpus"
KERNEL_TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
KERNEL_PACKAGE = "linux-source-6.12"
CLANG = os.environ.get("CLANG", "clang-19")
# The selftests' Makefile flags (tools/testing/selftests/bpf/Makefile, BPF_CFLAGS and CLANG_CFLAGS),
# minus -Werror: a warning from a newer clang is not a reason to lose an object.
COMMON_FLAGS = ["-g", "-O2", "--target=bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-mlittle-endian",
                "-std=gnu11", "-fno-strict-aliasing", "-Wno-compare-distinct-pointer-types",
                "-Wno-unknown-warning-option", "-Wno-int-conversion", "-Wno-incompatible-pointer-types"]
SYSTEM_INCLUDES = ["-idirafter", "/usr/include/x86_64-linux-gnu", "-idirafter", "/usr/include"]


@dataclass
class Project:
    """A source of BPF C files: where it comes from, which files are programs, how to compile them."""

    name: str
    mirror: str | None            # OWNER+NAME under the mirror directory; None for the kernel tarball
    roots: list[str]              # directories (relative to the unpacked tree) holding BPF C files
    includes: list[str] = field(default_factory=list)   # -I dirs relative to the tree, before ours
    flags: list[str] = field(default_factory=list)
    system_libbpf: bool = True    # put libbpf-dev's /usr/include/bpf headers after the project's

    def candidates(self, tree: Path) -> list[Path]:
        """C files under the roots that define at least one BPF section: the programs to build."""
        found = []
        for root in self.roots:
            for path in sorted((tree / root).rglob("*.c")):
                try:
                    text = path.read_text(errors="replace")
                except OSError:
                    continue
                if "SEC(" in text and "int main(" not in text:
                    found.append(path)
        return found


PROJECTS = [
    Project("kernel-selftests", None, ["tools/testing/selftests/bpf/progs"],
            includes=["tools/lib", "tools/testing/selftests/bpf", "tools/include/uapi"],
            flags=["-DENABLE_ATOMICS_TESTS"], system_libbpf=False),
    Project("libbpf-bootstrap", "libbpf+libbpf-bootstrap", ["examples/c"]),
    Project("xdp-tutorial", "xdp-project+xdp-tutorial",
            ["."], includes=["common", "headers"]),
    Project("xdp-tools", "xdp-project+xdp-tools", ["lib", "xdp-bench", "xdp-dump", "xdp-forward",
                                                     "xdp-monitor", "xdp-trafficgen", "xdp-filter"],
            includes=["headers", "lib/util", "lib/libxdp"],
            # What xdp-tools' configure finds in libbpf-dev 1.1 (its BPF code declares helpers otherwise).
            flags=["-std=gnu2x", "-DHAVE_LIBBPF_BPF_PROGRAM__TYPE", "-DHAVE_LIBBPF_BPF_PROGRAM__FLAGS"]),
    Project("bcc-libbpf-tools", "iovisor+bcc", ["libbpf-tools"], includes=["libbpf-tools"]),
    Project("katran", "facebookincubator+katran", ["katran"],
            includes=[".", "katran/lib/bpf", "katran/lib/linux_includes", "katran/lib"],
            flags=["-DKATRAN_INTROSPECTION", "-DENABLE_TPR"], system_libbpf=True),
]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def ensure_kernel_tarball() -> None:
    """Install the Debian package that holds the kernel source tarball when it is missing."""
    if KERNEL_TARBALL.exists():
        return
    print(f"installing {KERNEL_PACKAGE}", file=sys.stderr)
    run(["apt-get", "install", "-y", "-qq", KERNEL_PACKAGE])


def unpack_kernel(dest: Path) -> Path:
    """Unpack the BPF selftests and the headers and scripts they need; generate bpf_helper_defs.h."""
    tree = dest / "linux"
    stamp = tree / ".unpacked"
    if stamp.exists():
        return tree
    ensure_kernel_tarball()
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    wanted = ("tools/testing/selftests/bpf/", "tools/lib/bpf/", "tools/include/", "include/uapi/",
              "scripts/bpf_doc.py")
    with tarfile.open(KERNEL_TARBALL) as tar:
        for member in tar:
            parts = member.name.split("/", 1)
            if len(parts) == 2 and parts[1].startswith(wanted) and (member.isfile() or member.isdir()):
                member.name = parts[1]
                tar.extract(member, tree, filter="data")
    # libbpf's Makefile generates this header from the uapi helper documentation.
    with open(tree / "tools/lib/bpf/bpf_helper_defs.h", "w") as out:
        run([sys.executable, str(tree / "scripts/bpf_doc.py"), "--header",
             "--file", str(tree / "include/uapi/linux/bpf.h")], stdout=out)
    stamp.write_text("")
    return tree


def unpack_mirror(mirror_root: Path, slug: str, dest: Path) -> tuple[Path, str]:
    """`git archive` the mirror's HEAD into dest/<slug>; return the tree and the commit."""
    git_dir = mirror_root / slug / "repo"
    if not git_dir.is_dir():
        git_dir = mirror_root / slug
    commit = run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"],
                 capture_output=True, text=True).stdout.strip()
    tree = dest / slug
    stamp = tree / ".commit"
    if stamp.exists() and stamp.read_text() == commit:
        return tree, commit
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    # A mirror may lack its largest blobs (listed in the tree, absent from the store): leave them out.
    missing = missing_paths(git_dir)
    if missing:
        print(f"{slug}: {len(missing)} files absent from the mirror, left out: {', '.join(missing[:3])}",
              file=sys.stderr)
    pathspec = ["--", "."] + [f":(exclude,literal){p}" for p in missing] if missing else []
    archive = subprocess.Popen(["git", "--git-dir", str(git_dir), "archive", "HEAD", *pathspec],
                               stdout=subprocess.PIPE)
    run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout)
    if archive.wait() != 0:
        raise SystemExit(f"git archive failed for {git_dir}")
    stamp.write_text(commit)
    return tree, commit


def missing_paths(git_dir: Path) -> list[str]:
    """Paths of HEAD's tree whose blobs the mirror does not hold."""
    listing = run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", "HEAD"],
                  capture_output=True).stdout.split(b"\0")
    entries = []
    for item in listing:
        if not item:
            continue
        meta, path = item.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob":
            entries.append((sha, path.decode()))
    check = run(["git", "--git-dir", str(git_dir), "cat-file", "--batch-check"],
                input=b"".join(sha + b"\n" for sha, _ in entries), capture_output=True).stdout.splitlines()
    return sorted(path for (sha, path), line in zip(entries, check) if line.endswith(b" missing"))


def vmlinux_header(out: Path) -> Path:
    """vmlinux.h of the running kernel, for CO-RE sources; in its own include directory."""
    inc = out / "include"
    header = inc / "vmlinux.h"
    if not header.exists():
        inc.mkdir(parents=True, exist_ok=True)
        with open(header.with_suffix(".tmp"), "w") as f:
            run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], stdout=f)
        header.with_suffix(".tmp").rename(header)
    # <linux/types.h> reaches glibc's 32-bit stubs under --target=bpf (no __x86_64__); they are
    # empty for our purpose. katran's tpr includes vmlinux.h from its own build layout.
    (inc / "gnu").mkdir(exist_ok=True)
    (inc / "gnu" / "stubs-32.h").write_text("")
    (inc / "bpf" / "vmlinux").mkdir(parents=True, exist_ok=True)
    (inc / "bpf" / "vmlinux" / "vmlinux.h").write_text('#include "../../vmlinux.h"\n')
    return inc


def compile_one(cmd: list[str], obj: Path) -> str | None:
    """Compile; return None on success or the first error line."""
    proc = subprocess.run(["nice", "-n", "10", *cmd], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    obj.unlink(missing_ok=True)
    for line in proc.stderr.splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return (proc.stderr.strip().splitlines() or ["clang failed"])[-1]


def build(out: Path, mirror_root: Path, only: list[str] | None, jobs: int) -> dict:
    """Build every project; return the manifest."""
    src = out / "src"
    inc = vmlinux_header(out)
    manifest = {"clang": subprocess.run([CLANG, "--version"], capture_output=True, text=True)
                .stdout.splitlines()[0], "projects": {}}
    work = []
    for project in PROJECTS:
        if only and project.name not in only:
            continue
        if project.mirror is None:
            tree, origin = unpack_kernel(src), f"{KERNEL_TARBALL.name} ({KERNEL_PACKAGE})"
        else:
            if not (mirror_root / project.mirror).exists():
                print(f"{project.name}: no mirror {mirror_root / project.mirror}, skipped", file=sys.stderr)
                continue
            tree, commit = unpack_mirror(mirror_root, project.mirror, src)
            origin = f"{project.mirror.replace('+', '/')} @ {commit}"
        objdir = out / "objs" / project.name
        shutil.rmtree(objdir, ignore_errors=True)
        objdir.mkdir(parents=True)
        entry = manifest["projects"][project.name] = {"origin": origin, "objects": [], "failed": {}}
        base = [CLANG, *COMMON_FLAGS, *project.flags, f"-fdebug-prefix-map={tree}=."]
        includes = [f"-I{inc}"] + [f"-I{tree / d}" for d in project.includes]
        if project.system_libbpf:
            includes += ["-idirafter", "/usr/include"]
        for source in project.candidates(tree):
            rel = source.relative_to(tree)
            obj = objdir / (str(rel.with_suffix("")).replace("/", "__") + ".o")
            cmd = [*base, f"-I{source.parent}", *includes, *SYSTEM_INCLUDES, "-c", str(source), "-o", str(obj)]
            work.append((project.name, str(rel), obj, cmd))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(lambda w: (w, compile_one(w[3], w[2])), work)
        for (name, rel, obj, _), error in results:
            entry = manifest["projects"][name]
            if error is None:
                entry["objects"].append(str(obj.relative_to(out)))
            else:
                entry["failed"][rel] = error
    for entry in manifest["projects"].values():
        entry["objects"].sort()
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("BPFREWRITE_MIRROR", "/work/.mirror")),
                        help="directory holding OWNER+NAME/repo bare git mirrors (env BPFREWRITE_MIRROR)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (build/corpus)")
    parser.add_argument("--project", action="append", help="build only this project (repeatable)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel compiles (at most 2 on a shared machine)")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest = build(out, args.mirror, args.project, min(args.jobs, 2))
    path = out / "manifest.json"
    old = json.loads(path.read_text())["projects"] if path.exists() and args.project else {}
    old.update(manifest["projects"])
    manifest["projects"] = old
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    for name, entry in sorted(manifest["projects"].items()):
        print(f"{name:20} {len(entry['objects']):5} objects  {len(entry['failed']):4} sources did not compile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
