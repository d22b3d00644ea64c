"""Control-flow graphs (cfg): dot with source lines, the JSON schema, and SVG/PNG through graphviz."""
from __future__ import annotations

import json
import os

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.passes.analysis.callgraph import call_target_name
from bpfrewrite.passes.analysis.cfg import EXIT
from bpfrewrite.passes.analysis.flowgraphs import FlowGraphs
from bpfrewrite.source import function_positions


def render(graphs: FlowGraphs, fmt: str) -> bytes:
    """The graphs in fmt (dot, json, svg or png), as the bytes cfg writes."""
    if fmt == "json":
        return (json.dumps(cfg_json(graphs), indent=1, sort_keys=True) + "\n").encode()
    # Source lines come from BTF strings, which may hold bytes that are not UTF-8 (a Latin-1
    # comment): graphviz reads UTF-8, so those become U+FFFD.
    data = cfg_dot(graphs).encode("utf-8", "replace")
    return run_graphviz(data, fmt) if fmt in ("svg", "png") else data


def cfg_json(graphs: FlowGraphs) -> dict:
    """{"version": 1, "functions": [...], "calls": [...]} with block boundaries as section slots (end exclusive)."""
    analysed, graph = graphs.functions, graphs.calls
    chosen = {f: c for f, c, _ in analysed}
    functions = []
    for func, cfg, loops in analysed:
        slots, insns = cfg.slots, func.insns  # func.insns slices the section: read it once
        end_slot = slots[-1] + insns[-1].width
        blocks = []
        for b in cfg.blocks:
            blocks.append({
                "id": b.id,
                "start": slots[b.start],
                "end": slots[b.end] if b.end < len(slots) else end_slot,
                "insns": [{"slot": slots[i], "text": insns[i].text()} for i in range(b.start, b.end)],
                "loop_header": b.id in loops.headers,
            })
        edges = [
            {"src": s, "dst": "exit" if d == EXIT else d, "kind": k}
            for s, d, k in cfg.edges()
        ]
        edges.sort(key=lambda e: (e["src"], e["dst"] == "exit", e["dst"] if e["dst"] != "exit" else 0, e["kind"]))
        loop_list = []
        for lp in loops.loops:
            rec = {
                "header": lp.header,
                "blocks": sorted(lp.blocks),
                "depth": lp.depth,
                "back_edges": [[s, lp.header] for s in lp.latches],
                "may_goto": [slots[i] for i in lp.may_gotos],
                "helper_calls": [slots[i] for i in lp.helper_calls],
                "iter_next_calls": [slots[i] for i in lp.iter_next_calls],
            }
            if lp.bound is not None:
                rec["bound"] = lp.bound
            loop_list.append(rec)
        functions.append({
            "name": func.name,
            "section": func.section.name,
            "program": func.is_program,
            "blocks": blocks,
            "edges": edges,
            "loops": loop_list,
        })
    calls = []
    for e in graph.edges:
        if e.caller not in chosen:
            continue
        rec = {"caller": e.caller.name, "callee": e.callee.name, "kind": e.kind,
               "slot": chosen[e.caller].slots[e.index]}
        if e.via is not None:
            rec["via"] = e.via
        calls.append(rec)
    return {"version": 1, "functions": functions, "calls": calls}  # public schema: bump on change


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def cfg_dot(graphs: FlowGraphs) -> str:
    """One dot digraph: a cluster per function, blocks with instructions and source lines."""
    obj, analysed, graph = graphs.obj, graphs.functions, graphs.calls
    number = {f: k for k, (f, _, _) in enumerate(analysed)}
    out = [
        "digraph bpf {",
        "  compound=true;",
        '  node [shape=box, fontname="monospace", fontsize=10];',
        '  edge [fontname="monospace", fontsize=9];',
    ]
    entry_node = {}
    for func, cfg, loops in analysed:
        k = number[func]
        entry_node[func] = f"f{k}_b0"
        kind = "program" if func.is_program else "subprogram"
        out.append(f"  subgraph cluster_{k} {{")
        out.append(f'    label="{_esc(func.name)} ({kind}, section {_esc(func.section.name)})";')
        positions = function_positions(obj, func)
        insns = func.insns  # func.insns slices the section: read it once
        headers = loops.headers
        bounds = {lp.header: lp for lp in loops.loops}
        for b in cfg.blocks:
            lines, last = [], None
            if b.id in bounds:
                lp = bounds[b.id]
                what = [f"loop header, depth {lp.depth}"]
                what.append(f"bound {lp.bound}" if lp.bound is not None else "no bound")
                if lp.has_may_goto:
                    what.append("may_goto")
                if lp.has_iter_next:
                    what.append("iterator")
                if lp.has_helper_call:
                    what.append("helper calls")
                lines.append("# " + ", ".join(what))
            for i in range(b.start, b.end):
                pos, insn = positions[i], insns[i]
                if insn.line is not None and pos is not None and (pos.file, pos.line) != last:
                    lines.append(f"; {pos.text.strip()} [{os.path.basename(pos.file)}:{pos.line}]")
                    last = (pos.file, pos.line)
                note = f"  # {call_target_name(insn)}" if insn.is_call else ""
                lines.append(f"{cfg.slots[i]}: {insn.text()}{note}")
            label = "".join(_esc(line) + "\\l" for line in lines)
            style = ', style=filled, fillcolor="lightyellow"' if b.id in headers else ""
            out.append(f'    f{k}_b{b.id} [label="{label}"{style}];')
        if any(d == EXIT for _, d, _ in cfg.edges()):
            out.append(f'    f{k}_exit [label="exit", shape=point];')
        back = set(loops.back_edges)
        for s, d, kind in cfg.edges():
            dst = f"f{k}_exit" if d == EXIT else f"f{k}_b{d}"
            attrs = []
            if kind in ("taken", "may_goto"):
                attrs.append(f'label="{kind}"')
            if kind == "may_goto":
                attrs.append('color="red"')
            if kind == "exit":
                attrs.append("style=dashed")
            if (s, d) in back:
                attrs += ['color="blue"', "penwidth=2", 'xlabel="back"']
            out.append(f"    f{k}_b{s} -> {dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
        out.append("  }")
    for e in graph.edges:
        if e.caller not in number or e.callee not in number:
            continue
        caller_cfg = analysed[number[e.caller]][1]
        src = f"f{number[e.caller]}_b{caller_cfg.block_of[e.index]}"
        label = "call" if e.kind == "call" else f"callback via {e.via}" if e.via else "callback"
        style = "dashed" if e.kind == "call" else "dotted"
        out.append(
            f'  {src} -> {entry_node[e.callee]} [label="{_esc(label)}", style={style}, color="purple",'
            f" lhead=cluster_{number[e.callee]}];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


def run_graphviz(dot_text: bytes, fmt: str) -> bytes:
    """Render dot text with graphviz's `dot`; BpfrewriteError when graphviz is missing or fails."""
    import shutil
    import subprocess

    exe = shutil.which("dot")
    if exe is None:
        raise BpfrewriteError("graphviz is not installed: apt-get install graphviz")
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text, capture_output=True, check=False)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise BpfrewriteError(f"graphviz dot failed: {msg[0] if msg else 'exit ' + str(proc.returncode)}")
    return proc.stdout
