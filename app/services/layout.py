"""A layered (Sugiyama) layout of a Drawing, written as SVG: /v1/graph's picture where Graphviz is not installed.

The steps dot takes, in their simplest sound form: ranks by longest path to the output (so a leaf sits just
above its first use, as dot's network simplex tends to put it); a chain of dummy nodes for every edge that
spans several ranks; crossings reduced by barycenter sweeps, keeping the best order seen; x positions by
repeated isotonic regression of each rank toward its neighbours' positions (order and spacing kept, squared
displacement least), which also straightens the dummy chains; edges as smooth curves through their dummies.
The SVG has Graphviz's structure: `g.node` with `<title>n{id}</title>`, `g.edge` with `<title>n{j}->n{k}</title>`,
so a reader of one reads the other. Everything is linear in the graph but the crossing counts (n log n per
rank pair) and sweeps (a fixed number).
"""
from __future__ import annotations

from bisect import bisect_right
from html import escape

from app.services.graph import Drawing

FILL = {"leaf": "#add8e6", "output": "#caff70", "op": "#d3d3d3"}  # lightblue, darkolivegreen1, lightgrey
FONT = 10  # px, monospace
CHAR_W = 6.02  # px per character of a 10 px monospace font
LINE_H = 13
PAD_X, PAD_Y = 9, 5
GAP_X, GAP_Y = 18, 34
DUMMY_W = 8
SWEEPS = 12
PASSES = 8
MARGIN = 8
MAX_DUMMIES = 20_000  # vertices routing long edges, at most (the graph itself is capped at graph_max_nodes)


class _V:
    __slots__ = ("key", "w", "h", "rank", "x", "node")

    def __init__(self, key, w, h, node=None):
        self.key, self.w, self.h, self.node = key, w, h, node
        self.rank, self.x = 0, 0.0


def to_svg(d: Drawing) -> bytes:
    if not d.nodes:
        return _svg(300, 40, ['<text x="150" y="24" text-anchor="middle" font-family="monospace" font-size="11">'
                              "no backward graph: no tensor of this program requires grad</text>"])
    return _write(*layout(d), d)


def layout(d: Drawing):
    """(vertices by key: the nodes' ids and the dummies' tuples; each rank's keys in order; [(edge, chain)])."""
    verts = {n.id: _V(n.id, _width(n.lines), len(n.lines) * LINE_H + 2 * PAD_Y, n) for n in d.nodes}
    _rank(verts, d.edges)
    chains, adj_up, adj_down = _dummies(verts, d.edges)
    ranks = _order(verts, adj_up, adj_down)
    _place(verts, ranks, adj_up, adj_down)
    return verts, ranks, chains


def _width(lines) -> float:
    return max(len(s) for s in lines) * CHAR_W + 2 * PAD_X


def _rank(verts, edges):
    """rank = longest path from the node down to an output, flipped: outputs at the bottom."""
    down: dict = {k: [] for k in verts}  # src -> dsts (toward the output)
    indeg = {k: 0 for k in verts}
    for e in edges:
        down[e.src].append(e.dst)
        indeg[e.dst] += 1
    order, stack = [], [k for k in verts if indeg[k] == 0]
    while stack:  # Kahn's topological order, sources (leaves) first
        k = stack.pop()
        order.append(k)
        for j in down[k]:
            indeg[j] -= 1
            if indeg[j] == 0:
                stack.append(j)
    depth = {}
    for k in reversed(order):  # a graph from the engine is acyclic; anything left over gets depth 0
        depth[k] = max((depth[j] + 1 for j in down[k] if j in depth), default=0)
    top = max(depth.values(), default=0)
    for k, v in verts.items():
        v.rank = top - depth.get(k, 0)


def _dummies(verts, edges):
    """[(edge, its chain of vertices one rank apart)] (up to MAX_DUMMIES added vertices in all: past that an
    edge is drawn straight, so 4,000 edges that each span 1,000 ranks cost no millions); the up/down
    adjacency of all vertices."""
    adj_up = {k: [] for k in verts}
    adj_down = {k: [] for k in verts}
    chains = []
    budget = MAX_DUMMIES
    for e in sorted(edges, key=lambda e: verts[e.dst].rank - verts[e.src].rank):  # short ones first
        chain = [e.src]
        r = verts[e.src].rank + 1
        span = verts[e.dst].rank - r
        if span > budget:
            r = verts[e.dst].rank  # no room left to route it: a straight edge
        budget -= max(span, 0) if r < verts[e.dst].rank else 0
        while r < verts[e.dst].rank:
            key = ("d", e.dst, e.slot, r)
            verts[key] = _V(key, DUMMY_W, 0)
            verts[key].rank = r
            adj_up[key], adj_down[key] = [], []
            chain.append(key)
            r += 1
        chain.append(e.dst)
        for a, b in zip(chain, chain[1:]):
            adj_down[a].append(b)
            adj_up[b].append(a)
        chains.append((e, chain))
    return chains, adj_up, adj_down


def _order(verts, adj_up, adj_down):
    """Each rank's left-to-right order, by barycenter sweeps; the order with fewest crossings wins."""
    n_ranks = max(v.rank for v in verts.values()) + 1
    ranks: list[list] = [[] for _ in range(n_ranks)]
    seen = set()
    # first order: a depth-first walk up from the outputs, so that a node's inputs start out side by side
    roots = [k for k in verts if not adj_down[k]]
    stack = list(reversed(roots))
    while stack:
        k = stack.pop()
        if k in seen:
            continue
        seen.add(k)
        ranks[verts[k].rank].append(k)
        stack.extend(reversed(adj_up[k]))
    for k in verts:
        if k not in seen:
            ranks[verts[k].rank].append(k)
    best, best_cross = [list(r) for r in ranks], _crossings(ranks, adj_down)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        rng = range(1, n_ranks) if downward else range(n_ranks - 2, -1, -1)
        for r in rng:
            ref = ranks[r - 1] if downward else ranks[r + 1]
            pos = {k: i for i, k in enumerate(ref)}
            nbrs = adj_up if downward else adj_down
            cur = {k: i for i, k in enumerate(ranks[r])}

            def bary(k, pos=pos, nbrs=nbrs, cur=cur):
                ps = [pos[j] for j in nbrs[k] if j in pos]
                return sum(ps) / len(ps) if ps else cur[k]

            ranks[r].sort(key=lambda k, b=bary, c=cur: (b(k), c[k]))
        cross = _crossings(ranks, adj_down)
        if cross < best_cross:
            best, best_cross = [list(r) for r in ranks], cross
    return best


def _crossings(ranks, adj_down) -> int:
    """Edge crossings between consecutive ranks (inversions among the edges' lower ends)."""
    total = 0
    for upper, lower in zip(ranks, ranks[1:]):
        pos = {k: i for i, k in enumerate(lower)}
        ends = [pos[j] for k in upper for j in sorted(adj_down[k], key=lambda j: pos.get(j, 0)) if j in pos]
        seen: list[int] = []
        for p in ends:  # count earlier ends to the right of p
            total += len(seen) - bisect_right(seen, p)
            seen.insert(bisect_right(seen, p), p)
    return total


def _place(verts, ranks, adj_up, adj_down):
    """x centres: packed, then sweeps that move each rank toward its neighbours' mean x (down, up, ..., and a
    last one toward both), keeping its order and spacing."""
    for rank in ranks:
        x = 0.0
        for k in rank:
            v = verts[k]
            v.x = x + v.w / 2
            x += v.w + GAP_X
    for p in range(PASSES + 1):
        if p == PASSES:
            seq, nbrs = ranks, (adj_up, adj_down)
        elif p % 2 == 0:
            seq, nbrs = ranks[1:], (adj_up,)
        else:
            seq, nbrs = ranks[-2::-1], (adj_down,)
        for rank in seq:
            desired = []
            for k in rank:
                xs = [verts[j].x for a in nbrs for j in a[k]]
                desired.append(sum(xs) / len(xs) if xs else verts[k].x)
            _fit([verts[k] for k in rank], desired)
    left = min(v.x - v.w / 2 for v in verts.values())
    for v in verts.values():
        v.x += MARGIN - left


def _fit(row, desired):
    """x as close to `desired` as the row's order and spacing allow (least squares): with offsets o_i of the
    minimum spacing, y_i = x_i - o_i must not decrease, which is isotonic regression (pool adjacent violators)."""
    offsets, o = [], 0.0
    for i, v in enumerate(row):
        if i:
            prev = row[i - 1]
            o += (prev.w + v.w) / 2 + (GAP_X if prev.node is not None or v.node is not None else GAP_X / 3)
        offsets.append(o)
    blocks: list[list[float]] = []  # [sum, count]
    for d, o in zip(desired, offsets):
        blocks.append([d - o, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    i = 0
    for s, c in blocks:
        for _ in range(int(c)):
            row[i].x = s / c + offsets[i]
            i += 1


# ----- writing -----


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _write(verts, ranks, chains, d: Drawing) -> bytes:
    tops, y = [], float(MARGIN)
    heights = []
    for rank in ranks:
        h = max((verts[k].h for k in rank if verts[k].node is not None), default=LINE_H)
        tops.append(y)
        heights.append(h)
        y += h + GAP_Y
    height = y - GAP_Y + MARGIN
    width = max(v.x + v.w / 2 for v in verts.values()) + MARGIN

    def centre_y(v):
        return tops[v.rank] + heights[v.rank] / 2

    # where an edge meets its nodes: spread along the box's bottom (leaving) and top (arriving) edges
    ends: dict = {}
    for _, chain in chains:
        ends.setdefault(("out", chain[0]), []).append(chain)
        ends.setdefault(("in", chain[-1]), []).append(chain)
    port = {}
    for (side, k), group in ends.items():
        v = verts[k]
        other = (lambda c: verts[c[1]].x) if side == "out" else (lambda c: verts[c[-2]].x)
        group.sort(key=other)
        step = min(12.0, (v.w - 2 * PAD_X) / max(len(group) - 1, 1))
        for i, c in enumerate(group):
            port[(side, id(c))] = v.x + (i - (len(group) - 1) / 2) * step

    parts = ['<g id="graph0" class="graph">', "<title>backward</title>"]
    for e, chain in chains:
        src, dst = verts[chain[0]], verts[chain[-1]]
        pts = [(port[("out", id(chain))], centre_y(src) + src.h / 2)]
        pts += [(verts[k].x, centre_y(verts[k])) for k in chain[1:-1]]
        tip = (port[("in", id(chain))], centre_y(dst) - dst.h / 2)
        pts.append((tip[0], tip[1] - 7))
        path = [f"M{_fmt(pts[0][0])},{_fmt(pts[0][1])}"]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            my = (y0 + y1) / 2
            path.append(f"C{_fmt(x0)},{_fmt(my)} {_fmt(x1)},{_fmt(my)} {_fmt(x1)},{_fmt(y1)}")
        tx, ty = tip
        arrow = f"{_fmt(tx)},{_fmt(ty)} {_fmt(tx - 3.5)},{_fmt(ty - 7)} {_fmt(tx + 3.5)},{_fmt(ty - 7)}"
        parts.append(f'<g id="edge{e.dst}_{e.slot}" class="edge"><title>n{e.src}-&gt;n{e.dst}</title>'
                     f'<path fill="none" stroke="#444444" d="{" ".join(path)}"/>'
                     f'<polygon fill="#444444" stroke="#444444" points="{arrow}"/>')
        if e.label:
            (x0, y0), (x1, y1) = pts[0], pts[1]
            parts.append(f'<text x="{_fmt((x0 + x1) / 2 + 4)}" y="{_fmt((y0 + y1) / 2 + 3)}" '
                         f'font-family="monospace" font-size="9" fill="#1a5fb4">{escape(e.label)}</text>')
        parts.append("</g>")
    for n in d.nodes:
        v = verts[n.id]
        x0, y0 = v.x - v.w / 2, centre_y(v) - v.h / 2
        parts.append(f'<g id="node{n.id}" class="node"><title>n{n.id}</title>'
                     f'<rect x="{_fmt(x0)}" y="{_fmt(y0)}" width="{_fmt(v.w)}" height="{_fmt(v.h)}" rx="4" '
                     f'fill="{FILL[n.kind]}" stroke="#444444"/>')
        for i, line in enumerate(n.lines):
            ty = y0 + PAD_Y + (i + 1) * LINE_H - 3
            parts.append(f'<text x="{_fmt(v.x)}" y="{_fmt(ty)}" text-anchor="middle" font-family="monospace" '
                         f'font-size="{FONT}">{escape(line)}</text>')
        parts.append("</g>")
    parts.append("</g>")
    return _svg(width, height, parts)


def _svg(width, height, parts) -> bytes:
    w, h = _fmt(width), _fmt(height)
    # sized in points over a viewBox in pixels, as dot's SVG is: the two layouts show at the same scale
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="{w}pt" '
            f'height="{h}pt" viewBox="0 0 {w} {h}">\n')
    return (head + "\n".join(parts) + "\n</svg>\n").encode()
