"""Charts show real data: what uPlot plots (read from ``window.chachamlCharts``) is compared with
``ml.metric_history``; zooming changes the x range; the log-scale toggle changes the y scale; a
running run's chart grows while the test logs points; a 1,000,000-point series is downsampled
to real points of the series over its whole range."""

from __future__ import annotations

import math
import re
from typing import Any

from ui_stores import big_value
from ui_watch import ALL_CHARTS, OVER_RECT_JS, charts, goto, wait_points

import chachaml as ml


def chart_of(page: Any, key: str) -> dict[str, Any]:
    found = charts(page)
    by_key = {c["key"]: c for c in found}
    assert key in by_key, f"no chart for {key!r}; charts: {sorted(by_key)}"
    return by_key[key]


def same(a: float | None, b: float) -> bool:
    if a is None:  # a gap: uPlot plots NaN and infinities as gaps
        return not math.isfinite(b)
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)


def test_run_page_charts_every_metric_with_its_history(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    run_id = served.facts["run"]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{run_id}")
    with ml.store(served.store):
        keys = sorted(ml.get_run(run_id)["metrics"])
        histories = {k: ml.metric_history(run_id, k) for k in keys}
    for key in keys:
        wait_points(tab.page, key, 1)
        chart = chart_of(tab.page, key)
        expected = histories[key]
        assert chart["xs"] == [p["step"] for p in expected], key
        plotted = chart["series"][0]
        assert len(plotted) == len(expected), key
        wrong = [
            (p["step"], y, p["value"])
            for p, y in zip(expected, plotted, strict=True)
            if not same(y, p["value"])
        ]
        assert not wrong, f"{key}: plotted values differ from metric_history: {wrong[:5]}"
    tab.watch.assert_clean()


def drag(page: Any, key: str, start: float, end: float) -> None:
    """Drag-select from ``start`` to ``end`` (fractions of the plot width) on chart ``key``."""
    box = page.evaluate(OVER_RECT_JS, key)
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * end, y, steps=4)
    page.mouse.up()


def test_drag_zooms_the_x_range_and_double_click_resets(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    key = served.facts["metric"]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{served.facts['run']}")
    wait_points(tab.page, key, 2)
    before = chart_of(tab.page, key)
    lo, hi = before["xmin"], before["xmax"]
    assert lo <= min(before["xs"]) and hi >= max(before["xs"]), before
    drag(tab.page, key, 0.25, 0.6)
    after = chart_of(tab.page, key)
    span = hi - lo
    # The new range is the dragged part of the old one (within a pixel or two of rounding).
    assert lo + 0.2 * span < after["xmin"] < lo + 0.3 * span, (before, after)
    assert lo + 0.55 * span < after["xmax"] < lo + 0.65 * span, (before, after)
    box = tab.page.evaluate(OVER_RECT_JS, key)
    tab.page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    reset = chart_of(tab.page, key)
    assert (reset["xmin"], reset["xmax"]) == (lo, hi)
    tab.watch.assert_clean()


def test_log_scale_toggle_changes_the_y_scale(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    key = served.facts["metric"]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{served.facts['run']}")
    wait_points(tab.page, key, 2)
    assert chart_of(tab.page, key)["ydistr"] in (None, 1)
    tab.page.get_by_label(re.compile(r"\blog\b", re.I)).check()
    tab.page.wait_for_function(
        f"(key) => {ALL_CHARTS}.find((c) => c.key === key).plot.scales.y.distr === 3", arg=key
    )
    with ml.store(served.store):
        n = len(ml.metric_history(served.facts["run"], key))
    assert len(chart_of(tab.page, key)["xs"]) == n  # same data, other scale
    tab.watch.assert_clean()


def test_running_run_chart_grows_live(servers: Any, open_tab: Any) -> None:
    served = servers.get("running")
    handle = served.facts["handles"][0]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{handle.id}")
    with ml.store(served.store):
        start = len(ml.metric_history(handle.id, "loss"))
    wait_points(tab.page, "loss", start)
    first = chart_of(tab.page, "loss")
    assert len(first["xs"]) == start
    new = [(start + i, 0.001 * (i + 1)) for i in range(25)]
    for step, value in new:
        handle.log_metric("loss", value, step=step)
    # No reload: the page must pick the points up by itself (writer flush ≤ 1 s + its polling).
    wait_points(tab.page, "loss", start + len(new), timeout_ms=15_000)
    grown = chart_of(tab.page, "loss")
    tail = dict(zip(grown["xs"], grown["series"][0], strict=True))
    assert all(same(tail.get(step), value) for step, value in new), tail
    assert tab.page.url.endswith(handle.id), "the page navigated instead of updating"
    tab.watch.assert_clean()


def test_million_point_series_is_downsampled_to_real_points(servers: Any, open_tab: Any) -> None:
    served = servers.get("big")
    facts = served.facts
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{facts['run']}")
    wait_points(tab.page, "loss", 10)
    chart = chart_of(tab.page, "loss")
    xs, ys = chart["xs"], chart["series"][0]
    assert 100 <= len(xs) <= 10_000, len(xs)
    assert xs[0] == 0 and xs[-1] == facts["points"] - 1, (xs[0], xs[-1])
    assert xs == sorted(xs)
    wrong = [(x, y) for x, y in zip(xs, ys, strict=True) if not same(y, big_value(int(x)))]
    assert not wrong, f"plotted points that are not points of the series: {wrong[:5]}"
    tab.watch.assert_clean()


def test_wall_time_axis_plots_the_timestamps(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    key, run_id = served.facts["metric"], served.facts["run"]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{run_id}")
    wait_points(tab.page, key, 2)
    tab.page.get_by_label(re.compile("x axis", re.I)).select_option("wall")
    with ml.store(served.store):
        history = ml.metric_history(run_id, key)
    # Points logged in the same millisecond share an x: the chart keeps the first of each.
    seconds = sorted({p["timestamp"] / 1000 for p in history})
    tab.page.wait_for_function(
        f"([key, x0]) => {ALL_CHARTS}.find((c) => c.key === key).plot.data[0][0] === x0",
        arg=[key, seconds[0]],
    )
    assert chart_of(tab.page, key)["xs"] == seconds
    tab.watch.assert_clean()


def test_smoothing_adds_a_smoothed_series(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    key, run_id = served.facts["metric"], served.facts["run"]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{run_id}")
    wait_points(tab.page, key, 2)
    tab.page.locator("#smoothing").fill("0.9")
    tab.page.wait_for_function(
        f"(key) => {ALL_CHARTS}.find((c) => c.key === key).plot.data.length === 3", arg=key
    )
    raw, smooth = chart_of(tab.page, key)["series"]
    # Debiased exponential moving average, computed here independently.
    avg, weight, expected = 0.0, 0.0, []
    for y in raw:
        avg = 0.9 * avg + 0.1 * y
        weight = 0.9 * weight + 0.1
        expected.append(avg / weight)
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(smooth, expected, strict=True))
    assert smooth != raw
    tab.watch.assert_clean()
