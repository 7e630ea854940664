"""Shortest orthogonal route between two points around axis-aligned boxes (no Qt: plain geometry).

The search runs on the sparse grid made by the boxes' edges and the two end points (an orthogonal
visibility graph): any route that avoids the boxes can be moved onto those lines without getting
longer or gaining bends, so the grid loses nothing. A* over (grid point, heading) states costs each
step its length plus :data:`BEND` per turn, so of the shortest routes the one with fewest bends wins.
Boxes' edges are free to run along (the boxes are the nodes already inflated by a clearance); only
their interiors are blocked.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Sequence

Point = tuple[float, float]
Box = tuple[float, float, float, float]
"""``(left, top, right, bottom)`` with y growing downwards, as in a Qt scene."""

BEND = 30.0
"""What a turn costs, in scene units of length: a route may be up to this much longer to save one."""

_RIGHT, _LEFT, _DOWN, _UP = 0, 1, 2, 3
_STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))


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


def _grid(start: Point, goal: Point, boxes: Sequence[Box]) -> tuple[list[float], list[float],
                                                                    list[list[bool]], list[list[bool]]]:
    """The grid lines and, per grid step, whether it runs through a box: (xs, ys, h_blocked, v_blocked).

    ``h_blocked[i][j]``: the step from ``(xs[i], ys[j])`` to ``(xs[i + 1], ys[j])``; ``v_blocked[i][j]``:
    from ``(xs[i], ys[j])`` to ``(xs[i], ys[j + 1])``. Every box edge is a grid line, so a step lies
    inside one box interval or outside it: a box blocks exactly the steps strictly within it.
    """
    xs = sorted({start[0], goal[0], *(b[0] for b in boxes), *(b[2] for b in boxes)})
    ys = sorted({start[1], goal[1], *(b[1] for b in boxes), *(b[3] for b in boxes)})
    h_blocked = [[False] * len(ys) for _ in xs]
    v_blocked = [[False] * len(ys) for _ in xs]
    for left, top, right, bottom in boxes:
        i0, i1 = bisect_left(xs, left), bisect_left(xs, right)
        j0, j1 = bisect_left(ys, top), bisect_left(ys, bottom)
        for i in range(i0, i1):
            column = h_blocked[i]
            for j in range(j0 + 1, j1):
                column[j] = True
        for i in range(i0 + 1, i1):
            column = v_blocked[i]
            for j in range(j0, j1):
                column[j] = True
    return xs, ys, h_blocked, v_blocked


def route(start: Point, goal: Point, boxes: Sequence[Box], start_heading: int = _RIGHT,
          goal_heading: int = _RIGHT) -> list[Point] | None:
    """The cheapest orthogonal polyline from ``start`` to ``goal`` entering no box, or None if there is none.

    It leaves ``start`` going ``start_heading`` (a turn right there counts as a bend) and should
    arrive at ``goal`` going ``goal_heading`` (else one more bend is counted), which is how a wire
    leaves an output to the right and enters an input from the left. An end point inside a box has
    no route.
    """
    if any(inside(start, b) or inside(goal, b) for b in boxes):
        return None
    xs, ys, h_blocked, v_blocked = _grid(start, goal, boxes)
    si, sj = bisect_left(xs, start[0]), bisect_left(ys, start[1])
    gi, gj = bisect_left(xs, goal[0]), bisect_left(ys, goal[1])
    gx, gy = goal
    nx, ny = len(xs), len(ys)

    def h(i: int, j: int) -> float:
        return abs(xs[i] - gx) + abs(ys[j] - gy)

    first = (si, sj, start_heading)
    best: dict[tuple[int, int, int], float] = {first: 0.0}
    came: dict[tuple[int, int, int], tuple[int, int, int] | None] = {first: None}
    # entries: (cost so far + estimate, cost so far, state, whether it is the goal with its last bend)
    heap: list[tuple[float, float, tuple[int, int, int], bool]] = [(h(si, sj), 0.0, first, False)]
    done: tuple[int, int, int] | None = None
    while heap:
        _, cost, state, final = heapq.heappop(heap)
        if final:
            done = state
            break
        if cost > best[state]:
            continue
        i, j, heading = state
        if i == gi and j == gj:
            closing = 0.0 if heading == goal_heading else BEND
            heapq.heappush(heap, (cost + closing, cost + closing, state, True))
            continue
        for d, (di, dj) in enumerate(_STEPS):
            if d == heading ^ 1:  # no U-turn on the spot
                continue
            ni, nj = i + di, j + dj
            if not (0 <= ni < nx and 0 <= nj < ny):
                continue
            if (dj == 0 and h_blocked[min(i, ni)][j]) or (di == 0 and v_blocked[i][min(j, nj)]):
                continue
            new = cost + abs(xs[ni] - xs[i]) + abs(ys[nj] - ys[j]) + (0.0 if d == heading else BEND)
            nxt = (ni, nj, d)
            if new < best.get(nxt, float("inf")):
                best[nxt] = new
                came[nxt] = state
                heapq.heappush(heap, (new + h(ni, nj), new, nxt, False))
    if done is None:
        return None
    points: list[Point] = []
    at: tuple[int, int, int] | None = done
    while at is not None:
        points.append((xs[at[0]], ys[at[1]]))
        at = came[at]
    return simplify(points[::-1])
