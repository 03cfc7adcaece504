"""A run's dependency graph laid out for drawing: layers by dependency depth, the order
within a layer chosen to keep edges short, wide layers wrapped into columns, sub-plans
collapsible into their parent, and the critical path and failure cascades marked.

Laid out on the server, in Python, so the browser gets plain SVG coordinates: no
layout library to vendor, and a 2,000-task run costs one pass over its edges.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from baton.model import Task, TaskState

#: Node box and spacing, in SVG user units.
NODE_W, NODE_H = 190.0, 34.0
GAP_X, GAP_Y = 60.0, 12.0
MARGIN = 20.0
#: A layer taller than this many nodes wraps into several columns.
MAX_COLUMN = 40


@dataclass
class Node:
    task: Task
    x: float = 0.0
    y: float = 0.0
    layer: int = 0
    critical: bool = False
    #: The task whose failure this one's failure cascaded from (``None``: not a cascade).
    cascade_from: str | None = None
    #: A failure others cascaded from.
    cascade_root: bool = False
    #: Sub-tasks hidden inside this node (collapsed), and whether it has any at all.
    hidden_children: int = 0
    has_children: bool = False


@dataclass
class Edge:
    source: str
    target: str
    critical: bool = False
    cascade: bool = False


@dataclass
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float
    critical_path: list[str] = field(default_factory=list)

    def node(self, task_id: str) -> Node:
        return next(n for n in self.nodes if n.task.id == task_id)


def _visible_ancestor(task: Task, by_id: Mapping[str, Task], collapsed: Collection[str]) -> str:
    """The node ``task`` is drawn as: itself, or the outermost collapsed parent."""
    shown, current = task.id, task
    while current.parent_id is not None and current.parent_id in by_id:
        current = by_id[current.parent_id]
        if current.id in collapsed:
            shown = current.id
    return shown


def layout(
    tasks: Sequence[Task],
    *,
    collapsed: Collection[str] = (),
    durations: Mapping[str, float] | None = None,
) -> Layout:
    """Lay ``tasks`` out. ``collapsed`` names parents whose sub-plans are drawn as the
    parent alone; ``durations`` (seconds of work per task) weigh the critical path,
    which is the longest chain by those weights (every task weighs at least 1 unit, so
    an unstarted plan's critical path is its longest chain)."""
    by_id = {t.id: t for t in tasks}
    drawn_as = {t.id: _visible_ancestor(t, by_id, collapsed) for t in tasks}
    children: dict[str, int] = {}
    for t in tasks:
        if t.parent_id is not None:
            children[t.parent_id] = children.get(t.parent_id, 0) + 1
    shown = [t for t in tasks if drawn_as[t.id] == t.id]
    shown_ids = {t.id for t in shown}
    nodes = {t.id: Node(task=t, has_children=t.id in children) for t in shown}
    for t in tasks:
        if drawn_as[t.id] != t.id:
            nodes[drawn_as[t.id]].hidden_children += 1

    deps: dict[str, set[str]] = {t.id: set() for t in shown}
    for t in tasks:
        target = drawn_as[t.id]
        for d in t.depends_on:
            source = drawn_as.get(d)
            if source is not None and source != target:
                deps[target].add(source)
        parent = t.parent_id
        if parent is not None and parent in shown_ids and target != parent:
            deps[parent].add(target)  # a parent finishes after its sub-plan
    order = _topological(shown, deps)

    layer: dict[str, int] = {}
    for tid in order:  # a node left over from a cycle a collapse made comes last
        layer[tid] = 1 + max((layer.get(d, -1) for d in deps[tid]), default=-1)
    layers: dict[int, list[str]] = {}
    for tid in order:
        layers.setdefault(layer[tid], []).append(tid)

    position: dict[str, float] = {}
    x = MARGIN
    height = 0.0
    for depth in sorted(layers):
        members = layers[depth]
        members.sort(
            key=lambda tid: (
                sum(position.get(d, 0.0) for d in deps[tid]) / len(deps[tid]) if deps[tid] else 0.0,
                nodes[tid].task.created_seq,
            )
        )
        for start in range(0, len(members), MAX_COLUMN):
            for row, tid in enumerate(members[start : start + MAX_COLUMN]):
                node = nodes[tid]
                node.layer = depth
                node.x, node.y = x, MARGIN + row * (NODE_H + GAP_Y)
                position[tid] = float(start + row)
                height = max(height, node.y + NODE_H)
            x += NODE_W + GAP_X
    width = x - GAP_X + MARGIN

    edges = [Edge(source=d, target=tid) for tid in order for d in sorted(deps[tid])]
    path = _critical_path(order, deps, durations or {})
    on_path = set(pairwise(path))
    for tid in path:
        nodes[tid].critical = True
    for edge in edges:
        edge.critical = (edge.source, edge.target) in on_path
    _mark_cascades(nodes, edges, drawn_as)
    return Layout(
        nodes=[nodes[t] for t in order],
        edges=edges,
        width=max(width, NODE_W + 2 * MARGIN),
        height=height + MARGIN,
        critical_path=path,
    )


def _topological(shown: Sequence[Task], deps: Mapping[str, set[str]]) -> list[str]:
    """Kahn's order, oldest first among equals. A plan's graph is acyclic (the Board
    refuses cycles), but collapsing a sub-plan can close one (a child depends on a task
    that depends on a sibling); the nodes of such a cycle come last, never lost."""
    waiting = {t.id: len(deps[t.id]) for t in shown}
    dependents: dict[str, list[str]] = {t.id: [] for t in shown}
    for tid, sources in deps.items():
        for s in sources:
            dependents[s].append(tid)
    ready = deque(t.id for t in shown if waiting[t.id] == 0)
    out: list[str] = []
    while ready:
        tid = ready.popleft()
        out.append(tid)
        for nxt in dependents[tid]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    placed = set(out)
    out.extend(t.id for t in shown if t.id not in placed)  # never lose a node
    return out


def _critical_path(
    order: Sequence[str], deps: Mapping[str, set[str]], durations: Mapping[str, float]
) -> list[str]:
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for tid in order:
        best = max((d for d in deps[tid] if d in finish), key=lambda d: finish[d], default=None)
        finish[tid] = (finish.get(best, 0.0) if best else 0.0) + max(durations.get(tid, 0), 1e-3)
        via[tid] = best
    if not finish:
        return []
    end: str | None = max(finish, key=lambda t: finish[t])
    path: list[str] = []
    while end is not None:
        path.append(end)
        end = via[end]
    return path[::-1]


def _mark_cascades(
    nodes: Mapping[str, Node], edges: Sequence[Edge], drawn: Mapping[str, str]
) -> None:
    for node in nodes.values():
        t = node.task
        root = (t.last_error or {}).get("root_cause")
        if t.state in (TaskState.FAILED, TaskState.SKIPPED) and root and root != t.id:
            source = drawn.get(str(root), str(root))
            node.cascade_from = source
            if source in nodes:
                nodes[source].cascade_root = True
    failed = {tid for tid, n in nodes.items() if n.cascade_from or n.cascade_root}
    for edge in edges:
        edge.cascade = edge.source in failed and nodes[edge.target].cascade_from is not None
