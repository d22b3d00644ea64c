"""A small directed graph of CFG blocks and the dominator algorithm, without networkx.

The CFG needs a handful of graph queries (successors, predecessors, typed edges, reachability)
and immediate dominators. networkx answered them, but importing it costs about 0.3 s of CPU per
run (a third of linting a small object) and its graphs cost more to build than the analyses that
read them. Immediate dominators are computed with Cooper, Harvey and Kennedy's iterative
algorithm ("A Simple, Fast Dominance Algorithm", 2001) over a reverse postorder: the dominator
tree is unique, so the result is the one networkx's implementation of the same algorithm gives.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator


class DiGraph:
    """Nodes and edges with one attribute, `kind`; nodes keep insertion order, as networkx's do."""

    def __init__(self, nodes: Iterable[Hashable] = ()):
        self._succ: dict[Hashable, dict[Hashable, str]] = {}
        self._pred: dict[Hashable, dict[Hashable, str]] = {}
        for n in nodes:
            self.add_node(n)

    def add_node(self, n: Hashable) -> None:
        """Add n (no-op when present)."""
        if n not in self._succ:
            self._succ[n] = {}
            self._pred[n] = {}

    def add_edge(self, s: Hashable, d: Hashable, kind: str) -> None:
        """Add the edge s -> d with its kind (adding missing nodes); a repeated edge takes the new kind."""
        self.add_node(s)
        self.add_node(d)
        self._succ[s][d] = kind
        self._pred[d][s] = kind

    def __contains__(self, n: object) -> bool:
        return n in self._succ

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._succ)

    def __len__(self) -> int:
        return len(self._succ)

    def edges(self, data: str | None = None) -> list[tuple]:
        """(src, dst) pairs, or (src, dst, kind) with data="kind", in node then insertion order."""
        if data is None:
            return [(s, d) for s, out in self._succ.items() for d in out]
        if data != "kind":
            raise KeyError(data)
        return [(s, d, k) for s, out in self._succ.items() for d, k in out.items()]

    def successors(self, n: Hashable) -> Iterator[Hashable]:
        """Nodes n has an edge to."""
        return iter(self._succ[n])

    def predecessors(self, n: Hashable) -> Iterator[Hashable]:
        """Nodes with an edge to n."""
        return iter(self._pred[n])

    def descendants(self, n: Hashable) -> set[Hashable]:
        """Nodes reachable from n, n excluded (as networkx.descendants)."""
        seen: set[Hashable] = {n}
        stack = list(self._succ[n])
        while stack:
            m = stack.pop()
            if m not in seen:
                seen.add(m)
                stack.extend(self._succ[m])
        seen.discard(n)
        return seen

    def immediate_dominators(self, root: Hashable, reverse: bool = False) -> dict[Hashable, Hashable]:
        """Immediate dominator of each node reachable from root (root maps to itself).

        reverse: on the reversed graph, i.e. immediate post-dominators with root the exit.
        """
        succ, pred = (self._pred, self._succ) if reverse else (self._succ, self._pred)
        return immediate_dominators(root, succ.__getitem__, pred.__getitem__)


def immediate_dominators(root: Hashable, succ: Callable[[Hashable], Iterable[Hashable]],
                         pred: Callable[[Hashable], Iterable[Hashable]]) -> dict[Hashable, Hashable]:
    """Cooper-Harvey-Kennedy: iterate idom over a reverse postorder until nothing changes."""
    post: list[Hashable] = []
    seen = {root}
    stack = [(root, iter(succ(root)))]
    while stack:
        node, it = stack[-1]
        for s in it:
            if s not in seen:
                seen.add(s)
                stack.append((s, iter(succ(s))))
                break
        else:
            stack.pop()
            post.append(node)
    number = {n: i for i, n in enumerate(post)}  # postorder number: the root is highest
    rpo = post[::-1]
    idom: dict[Hashable, Hashable] = {root: root}
    changed = True
    while changed:
        changed = False
        for n in rpo[1:]:
            new = None
            for p in pred(n):
                if p not in idom:
                    continue  # unreachable, or not processed yet in this pass
                if new is None:
                    new = p
                    continue
                a, b = p, new
                while a != b:  # walk the two fingers up the tree to their common ancestor
                    while number[a] < number[b]:
                        a = idom[a]
                    while number[b] < number[a]:
                        b = idom[b]
                new = a
            if new is not None and idom.get(n) != new:
                idom[n] = new
                changed = True
    return idom
