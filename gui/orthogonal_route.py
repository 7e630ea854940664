"""Shortest orthogonal route between two points around axis-aligned boxes (no Qt: plain geometry).

The search runs on the sparse grid made by the boxes' edges and the two end points (an orthogonal
visibility graph): any route that avoids the boxes can be moved onto those lines without getting
longer or gaining bends, so the grid loses nothing. A* over (grid point, heading) states costs each
step its length plus :data:`BEND` per turn, so of the shortest routes the one with fewest bends wins.
Boxes' edges may be run along (the boxes are the nodes already inflated by a clearance), at a
surcharge (:data:`HUG`) that keeps routes in the middle of gaps; only their interiors are blocked.
Each gap's centre line is a grid line too.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import pairwise

Point = tuple[float, float]
Box = tuple[float, float, float, float]
"""``(left, top, right, bottom)`` with y growing downwards, as in a Qt scene."""

BEND = 30.0
"""What a turn costs, in scene units of length: a route may be up to this much longer to save one."""

HUG = 0.5
"""What a unit of length along a box's edge costs on top (a route keeps to the middle of a gap)."""

_RIGHT, _LEFT, _DOWN, _UP = 0, 1, 2, 3
_MOVES = ((_RIGHT, 1, 0, 0), (_LEFT, -1, 0, 1), (_DOWN, 0, 1, 0), (_UP, 0, -1, 1))
"""(heading, di, dj, back): ``back`` 1 when the step's cost is stored at the point it goes to."""


def segment_hits(a: Point, b: Point, box: Box) -> bool:
    """Whether the axis-aligned segment ``a``-``b`` enters ``box``'s interior (touching an edge is fine)."""
    left, top, right, bottom = box
    if a[1] == b[1]:
        lo, hi = min(a[0], b[0]), max(a[0], b[0])
        return top < a[1] < bottom and lo < right and hi > left
    lo, hi = min(a[1], b[1]), max(a[1], b[1])
    return left < a[0] < right and lo < bottom and hi > top


def polyline_hits(points: Sequence[Point], boxes: Iterable[Box]) -> list[Box]:
    """The boxes whose interior some segment of the orthogonal polyline ``points`` enters."""
    return [box for box in boxes if any(segment_hits(points[k], points[k + 1], box)
                                        for k in range(len(points) - 1))]


def inside(point: Point, box: Box) -> bool:
    return box[0] < point[0] < box[2] and box[1] < point[1] < box[3]


def simplify(points: Sequence[Point]) -> list[Point]:
    """Drop repeated points and the middle one of any three on one line."""
    out: list[Point] = []
    for p in points:
        if out and p == out[-1]:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
            continue
        out.append(p)
    return out


def _lines(values: Iterable[float]) -> list[float]:
    """Sorted grid lines: the given ones and the middle between each two neighbours (corridor centres)."""
    edges = sorted(set(values))
    return sorted({*edges, *((a + b) / 2 for a, b in pairwise(edges))})


def _grid(start: Point, goal: Point, boxes: Sequence[Box]) -> tuple[list[float], list[float],
                                                                    list[list[float]], list[list[float]]]:
    """The grid lines and what a unit of length costs per grid step: (xs, ys, h_cost, v_cost).

    ``h_cost[i][j]``: the step from ``(xs[i], ys[j])`` to ``(xs[i + 1], ys[j])``; ``v_cost[i][j]``:
    from ``(xs[i], ys[j])`` to ``(xs[i], ys[j + 1])``. Every box edge is a grid line, so a step lies
    inside one box interval or outside it: a box blocks (inf) exactly the steps strictly within it,
    and a step along its edge costs ``1 + HUG`` so that routes keep to the middle of a gap.
    """
    xs = _lines([start[0], goal[0], *(b[0] for b in boxes), *(b[2] for b in boxes)])
    ys = _lines([start[1], goal[1], *(b[1] for b in boxes), *(b[3] for b in boxes)])
    h_cost = [[1.0] * len(ys) for _ in xs]
    v_cost = [[1.0] * len(ys) for _ in xs]
    inf, hug = float("inf"), 1.0 + HUG
    for left, top, right, bottom in boxes:
        i0, i1 = bisect_left(xs, left), bisect_left(xs, right)
        j0, j1 = bisect_left(ys, top), bisect_left(ys, bottom)
        for i in range(i0, i1):
            column = h_cost[i]
            for j in range(j0 + 1, j1):
                column[j] = inf
            for j in (j0, j1):
                column[j] = max(column[j], hug)
        for i in range(i0 + 1, i1):
            column = v_cost[i]
            for j in range(j0, j1):
                column[j] = inf
        for i in (i0, i1):
            column = v_cost[i]
            for j in range(j0, j1):
                column[j] = max(column[j], hug)
    return xs, ys, h_cost, v_cost


def _bends_left(heading: int, dx: float, dy: float) -> int:
    """The fewest turns still needed to reach a goal ``(dx, dy)`` away and arrive heading right."""
    if heading == _RIGHT:
        return 0 if dy == 0 and dx >= 0 else 2
    if heading == _LEFT:
        return 2
    toward = dy == 0 or (dy > 0) == (heading == _DOWN)
    return 1 if dx > 0 and toward else 2


def route(start: Point, goal: Point, boxes: Sequence[Box]) -> list[Point] | None:
    """The cheapest orthogonal polyline from ``start`` to ``goal`` entering no box, or None if there is none.

    It leaves ``start`` heading right (turning at once counts as a bend) and arrives at ``goal``
    heading right (else one more bend is counted): how a wire leaves an output and enters an
    input. An end point inside a box has no route. The A* estimate is the Manhattan distance plus
    :data:`BEND` per turn that is certainly still needed (:func:`_bends_left`), which keeps the
    search from trying every staircase of equal length.
    """
    if any(inside(start, b) or inside(goal, b) for b in boxes):
        return None
    xs, ys, h_cost, v_cost = _grid(start, goal, boxes)
    si, sj = bisect_left(xs, start[0]), bisect_left(ys, start[1])
    gi, gj = bisect_left(xs, goal[0]), bisect_left(ys, goal[1])
    gx, gy = goal
    nx, ny = len(xs), len(ys)
    inf = float("inf")

    dxs, dys = [gx - x for x in xs], [gy - y for y in ys]

    # a state is (i * ny + j) * 4 + heading: grid point (xs[i], ys[j]) reached going `heading`
    best = [inf] * (nx * ny * 4)
    came = [-1] * (nx * ny * 4)
    first = (si * ny + sj) * 4 + _RIGHT
    best[first] = 0.0
    goal_point = gi * ny + gj
    # entries: (cost so far + estimate, cost so far, state, whether it is the goal with its last bend)
    estimate = abs(dxs[si]) + abs(dys[sj]) + BEND * _bends_left(_RIGHT, dxs[si], dys[sj])
    heap: list[tuple[float, float, int, bool]] = [(estimate, 0.0, first, False)]
    done = -1
    while heap:
        _, cost, state, final = heapq.heappop(heap)
        if final:
            done = state
            break
        if cost > best[state]:
            continue
        point, heading = divmod(state, 4)
        if point == goal_point:
            closing = cost + (0.0 if heading == _RIGHT else BEND)
            heapq.heappush(heap, (closing, closing, state, True))
            continue
        i, j = divmod(point, ny)
        for d, di, dj, back in _MOVES:
            if d == heading ^ 1:  # no U-turn on the spot
                continue
            ni, nj = i + di, j + dj
            if not (0 <= ni < nx and 0 <= nj < ny):
                continue
            if dj == 0:
                step = abs(xs[ni] - xs[i]) * h_cost[i - back][j]
            else:
                step = abs(ys[nj] - ys[j]) * v_cost[i][j - back]
            if step == inf:
                continue
            new = cost + step + (0.0 if d == heading else BEND)
            nxt = (ni * ny + nj) * 4 + d
            if new < best[nxt]:
                best[nxt] = new
                came[nxt] = state
                dx, dy = dxs[ni], dys[nj]
                heapq.heappush(heap, (new + abs(dx) + abs(dy) + BEND * _bends_left(d, dx, dy), new, nxt, False))
    if done < 0:
        return None
    points: list[Point] = []
    at = done
    while at >= 0:
        i, j = divmod(at // 4, ny)
        points.append((xs[i], ys[j]))
        at = came[at]
    return simplify(points[::-1])
