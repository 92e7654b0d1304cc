"""Min/max rollups of long metric series, so a downsampled history reads blocks, not points.

A series with at least :data:`ROLLUP_MIN` points keeps one ``metric_blocks`` row per block of
consecutive steps at each of five levels: level 1 blocks span 64 steps, each coarser level 16
times more (64 ... 4,194,304 steps). A row holds the block's point count, its first step, and
its lowest and highest finite point (step and value; ties go to the lowest step; NULL when the
block holds only NaN).

Every batch write recomputes, inside its transaction, the blocks it touched: level 1 from the
points, each coarser level from the (at most 16) blocks below it. Recomputing rather than
merging keeps the rollup exact for any write pattern (appends, re-logged steps, out-of-order
steps) at the cost of re-reading the touched points once more. A series that crosses
``ROLLUP_MIN`` gets all its blocks built at once; migration 4 builds them for older stores.

Reading (:func:`plan`) picks the coarsest level whose blocks are at most half the requested
bucket width, rounds the bucket width up to whole blocks (so a bucket is a run of blocks and
the answer is exact), and combines the blocks' extremes per bucket: O(blocks), independent of
the number of points. Series too short or too dense for that fall back to the exact range scan
in :mod:`chachaml.store.sqlmetrics`.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml.store.sqlconn import Conn, dialect_of

ROLLUP_MIN = 16_384  # shorter series are downsampled from their points (a few ms)
SHIFTS = (6, 10, 14, 18, 22)  # level n blocks span 2**SHIFTS[n-1] steps
_INT64 = (-(2**63), 2**63 - 1)
_LONG_SERIES = f"series_id IN (SELECT id FROM metric_series WHERE count >= {ROLLUP_MIN})"


class _Source:
    """Where a level's blocks are computed from: the points (level 1) or the level below."""

    def __init__(self, level: int) -> None:
        self.level = level
        if level == 1:
            self.table, self.pos, self.shift = "metrics", "step", SHIFTS[0]
            self.count, self.first = "COUNT(*)", "MIN(step)"
            self.low, self.high = ("step", "value"), ("step", "value")
            self.where = ""
        else:
            self.table, self.pos, self.shift = "metric_blocks", "block", 4
            self.count, self.first = "SUM(count)", "MIN(first_step)"
            self.low, self.high = ("min_step", "min_value"), ("max_step", "max_value")
            self.where = f" AND level = {level - 1}"

    def rows(self, series: str, ranged: bool) -> str:
        where = f"{series}{self.where}"
        if ranged:
            where += f" AND {self.pos} >= ? AND {self.pos} <= ?"
        return f"FROM {self.table} WHERE {where}"


def _statements(level: int, dialect: str, series: str, ranged: bool = True) -> tuple[str, ...]:
    """The three statements that recompute level ``level`` of the series ``series`` selects;
    ``ranged``: only over a range of positions (steps or child blocks; two more ``?``)."""
    src = _Source(level)
    blk = f"{src.pos} >> {src.shift}"
    rows = src.rows(series, ranged)
    reset = (
        "INSERT INTO metric_blocks (series_id, level, block, count, first_step, "
        "min_step, min_value, max_step, max_value) "
        f"SELECT series_id, {level}, {blk}, {src.count}, {src.first}, NULL, NULL, NULL, NULL "
        f"{rows} GROUP BY series_id, {blk} "
        "ON CONFLICT (series_id, level, block) DO UPDATE SET count = excluded.count, "
        "first_step = excluded.first_step, min_step = NULL, min_value = NULL, "
        "max_step = NULL, max_value = NULL"
    )
    out = [reset]
    for (step, value), fn, order, target in (
        (src.low, "MIN", "ASC", "min"),
        (src.high, "MAX", "DESC", "max"),
    ):
        if dialect == "postgresql":
            extreme = (
                f"SELECT DISTINCT ON (series_id, {blk}) series_id AS sid, {blk} AS blk, "
                f"{step} AS s, {value} AS v {rows} AND {value} IS NOT NULL "
                f"ORDER BY series_id, {blk}, {value} {order}, {step}"
            )
        else:  # SQLite: the bare columns of a single MIN()/MAX() come from the row holding it
            extreme = (
                f"SELECT series_id AS sid, {blk} AS blk, {step} AS s, {fn}({value}) AS v "
                f"{rows} AND {value} IS NOT NULL GROUP BY series_id, {blk}"
            )
        out.append(
            f"UPDATE metric_blocks SET {target}_step = x.s, {target}_value = x.v "
            f"FROM ({extreme}) AS x WHERE metric_blocks.series_id = x.sid "
            f"AND metric_blocks.level = {level} AND metric_blocks.block = x.blk"
        )
    return tuple(out)


_REFRESH = {
    dialect: [_statements(level, dialect, "series_id = ?") for level in range(1, len(SHIFTS) + 1)]
    for dialect in ("sqlite", "postgresql")
}


def backfill(dialect: str) -> tuple[str, ...]:
    """Statements (no parameters) that build the blocks of every long series (migration 4)."""
    return tuple(
        sql
        for level in range(1, len(SHIFTS) + 1)
        for sql in _statements(level, dialect, _LONG_SERIES, ranged=False)
    )


def refresh(conn: Conn, touched: dict[int, tuple[int, int] | None]) -> None:
    """Recompute the blocks of each series over its touched step range (``None``: all of it)."""
    levels = _REFRESH[dialect_of(conn)]
    for sid, span in touched.items():
        lo, hi = span if span is not None else _INT64
        below = 0  # shift of the source's positions: steps for level 1, then child blocks
        for shift, statements in zip(SHIFTS, levels, strict=True):
            first = (lo >> shift) << (shift - below)
            last = (((hi >> shift) + 1) << (shift - below)) - 1
            bounds = (sid, max(first, _INT64[0]), min(last, _INT64[1]))
            for sql in statements:
                conn.execute(sql, bounds)
            below = shift


# A block: (block, count, first_step, min_step, min_value, max_step, max_value)
Block = tuple[int, int, int, int | None, float | None, int | None, float | None]

_UPSERT = (
    "INSERT INTO metric_blocks (series_id, level, block, count, first_step, min_step, "
    "min_value, max_step, max_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (series_id, level, block) DO UPDATE SET count = excluded.count, "
    "first_step = excluded.first_step, min_step = excluded.min_step, "
    "min_value = excluded.min_value, max_step = excluded.max_step, max_value = excluded.max_value"
)


def _point_blocks(steps: list[int], values: list[float]) -> list[Block]:
    """Level 1 blocks of increasing steps (NaN values are the ones unequal to themselves)."""
    out: list[Block] = []
    shift = SHIFTS[0]
    i, n = 0, len(steps)
    while i < n:
        block = steps[i] >> shift
        j = bisect.bisect_left(steps, (block + 1) << shift, i)
        chunk = values[i:j]
        finite = [v for v in chunk if v == v]
        if finite:
            low, high = min(finite), max(finite)
            low_step, high_step = steps[i + chunk.index(low)], steps[i + chunk.index(high)]
            out.append((block, j - i, steps[i], low_step, low, high_step, high))
        else:
            out.append((block, j - i, steps[i], None, None, None, None))
        i = j
    return out


def _combine(parent: int, parts: Sequence[Block]) -> Block:
    """One block from parts in step order (ties keep the earlier part's point)."""
    count = 0
    low: tuple[int | None, float | None] = (None, None)
    high: tuple[int | None, float | None] = (None, None)
    for _, n, _, min_step, min_value, max_step, max_value in parts:
        count += n
        if min_value is not None and (low[1] is None or min_value < low[1]):
            low = (min_step, min_value)
        if max_value is not None and (high[1] is None or max_value > high[1]):
            high = (max_step, max_value)
    return (parent, count, parts[0][2], *low, *high)


def _parents(children: list[Block], shift: int) -> list[Block]:
    groups: dict[int, list[Block]] = {}
    for child in children:
        groups.setdefault(child[0] >> shift, []).append(child)
    return [_combine(parent, parts) for parent, parts in groups.items()]


def append(conn: Conn, sid: int, after_step: int, steps: list[int], values: list[float]) -> None:
    """Fold increasing steps that all follow ``after_step`` into a series' blocks (the usual
    case, in Python from the batch itself: no point is read back)."""
    levels = [_point_blocks(steps, values)]
    for shift, below in zip(SHIFTS[1:], SHIFTS, strict=False):
        levels.append(_parents(levels[-1], shift - below))
    # Only the block holding the stored last step can already exist at each level: merge it.
    wanted = " OR ".join(["(level = ? AND block = ?)"] * len(SHIFTS))
    stored: dict[tuple[int, int], Block] = {}
    for level, *row in conn.execute(
        "SELECT level, block, count, first_step, min_step, min_value, max_step, max_value "
        f"FROM metric_blocks WHERE series_id = ? AND ({wanted})",
        (sid, *(x for n, shift in enumerate(SHIFTS, 1) for x in (n, after_step >> shift))),
    ):
        stored[level, row[0]] = tuple(row)
    upserts = []
    for n, fresh in enumerate(levels, 1):
        for new in fresh:
            old = stored.get((n, new[0]))
            merged = new if old is None else _combine(new[0], (old, new))
            upserts.append((sid, n, *merged))
    conn.executemany(_UPSERT, upserts)


def update(
    conn: Conn,
    batch: dict[int, Any],
    stored: Mapping[int, Sequence[Any]],
    counts: dict[int, int],
) -> None:
    """Bring the blocks of every long series in a written batch up to date.

    ``batch``/``stored`` are the batch summaries and stored series summaries of
    :mod:`chachaml.store.sqlmetrics`; ``counts`` the point counts after the batch. A series
    that only grew past its last stored step is folded in from the batch; one that just became
    long is built whole; anything else (re-logged or out-of-order steps) is recomputed over
    the touched range from the stored points.
    """
    rebuild: dict[int, tuple[int, int] | None] = {}
    for sid, summary in batch.items():
        if counts[sid] < ROLLUP_MIN:
            continue
        before, last_step = stored[sid][0], stored[sid][2]
        if before < ROLLUP_MIN:
            rebuild[sid] = None
        elif summary[10] and summary[1] > last_step:
            append(conn, sid, last_step, summary[13], summary[14])
        else:
            rebuild[sid] = (summary[11], summary[12])
    refresh(conn, rebuild)


def plan(conn: Conn, sid: int, lo: int, hi: int, buckets: int) -> list[int] | None:
    """Steps to keep for ``buckets`` min/max buckets over ``[lo, hi]`` from the blocks, or
    ``None`` when the series has no blocks fine enough (the caller scans the points instead).

    The caller only asks for a series with at least ``ROLLUP_MIN`` points.
    """
    width = -(-(hi - lo + 1) // buckets)
    level = 0
    for n, shift in enumerate(SHIFTS, 1):
        if 2 << shift <= width:
            level = n
    if level == 0:
        return None
    shift = SHIFTS[level - 1]
    size = 1 << shift
    width = -(-width // size) * size  # whole blocks per bucket
    origin = (lo >> shift) << shift
    rows = conn.execute(
        "SELECT block, first_step, min_step, min_value, max_step, max_value FROM metric_blocks "
        "WHERE series_id = ? AND level = ? ORDER BY block",
        (sid, level),
    ).fetchall()
    if not rows:
        return None
    low: dict[int, tuple[float, int]] = {}
    high: dict[int, tuple[float, int]] = {}
    first: dict[int, int] = {}
    for block, first_step, min_step, min_value, max_step, max_value in rows:
        b = ((block << shift) - origin) // width
        first.setdefault(b, first_step)
        # Blocks come in step order, so keeping the first of equal extremes keeps the lowest step.
        if min_value is not None and (b not in low or min_value < low[b][0]):
            low[b] = (min_value, min_step)
        if max_value is not None and (b not in high or max_value > high[b][0]):
            high[b] = (max_value, max_step)
    steps = {s for _, s in low.values()} | {s for _, s in high.values()}
    steps.update(s for b, s in first.items() if b not in low)  # only NaN: keep its first point
    return sorted(steps)
