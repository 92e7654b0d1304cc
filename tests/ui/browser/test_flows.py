"""Flows, end to end in the browser, each checked against the Python API (not the UI): filter
with an expression and with a parse error, sort by a metric column, select two runs → Compare,
promote a model version (with confirmation) and see the badge move, add/remove a tag, edit a
note with math, and the CSV export of a filter equals ``ml.export_runs`` of that filter.

The mutating flows use the ``flows`` state (a demo store of their own)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ui_watch import goto

import chachaml as ml
from chachaml import export, registry
from chachaml.errors import InvalidFilter

EXPERIMENT = "flowers-logreg"
FILTER = "metrics.val_accuracy > 0.5 and params.model = 'softmax'"


def listed_ids(page: Any) -> list[str]:
    """Run ids of the runs table rows, in page order (``tr[data-run]``)."""
    ids: list[str] = page.locator("tr[data-run]").evaluate_all(
        "rows => rows.map(r => r.dataset.run)"
    )
    return ids


def submit_filter(tab: Any, expression: str) -> None:
    box = tab.page.locator("input[name=filter]").first
    box.fill(expression)
    with tab.page.expect_navigation():
        box.press("Enter")
    tab.watch.settle(tab.page)


def test_filter_with_an_expression(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    tab = open_tab(served)
    goto(tab.page, tab.watch, "/runs")
    submit_filter(tab, FILTER)
    with ml.store(served.store):
        expected = [r["id"] for r in ml.search_runs(FILTER, limit=50)]
    assert expected, "the filter matches nothing: the test would prove nothing"
    assert listed_ids(tab.page) == expected
    assert parse_qs(urlsplit(tab.page.url).query).get("filter") == [FILTER]
    tab.watch.assert_clean()


def test_filter_parse_error_is_shown_not_crashed(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    tab = open_tab(served)
    goto(tab.page, tab.watch, "/runs")
    bad = "metrics.val_accuracy >> 0.5"
    tab.watch.allow("/runs", 400)
    submit_filter(tab, bad)
    try:
        with ml.store(served.store):
            ml.search_runs(bad)
    except InvalidFilter as exc:
        message = str(exc).splitlines()[0]
    else:
        raise AssertionError(f"{bad!r} parses: pick another bad expression")
    assert message in tab.page.inner_text("body")
    assert tab.page.locator("input[name=filter]").first.input_value() == bad, "input lost"
    tab.watch.assert_clean()


def column_values(page: Any, label: str) -> list[str]:
    """The cells of the column headed ``label``, top to bottom."""
    headers = page.locator("#runs-table thead th").all_inner_texts()
    index = next(i for i, h in enumerate(headers) if h.strip().split(" ")[0] == label)
    cells: list[str] = page.locator(
        f"#runs-table tbody tr td:nth-child({index + 1})"
    ).all_inner_texts()
    return [c.strip() for c in cells]


#: Runs without children on the page (the grid candidates and cv-best): the table is flat.
SORTED = f"/runs?experiment={EXPERIMENT}&filter=params.model+%3D+%27softmax%27"


def test_sort_by_a_metric_column(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    tab = open_tab(served)
    goto(tab.page, tab.watch, SORTED + "&col=metrics.val_accuracy")
    for shown in ("desc", "asc"):
        header = tab.page.locator("#runs-table th a", has_text=re.compile(r"^\s*val_accuracy"))
        with tab.page.expect_navigation():
            header.click()
        tab.watch.settle(tab.page)
        query = parse_qs(urlsplit(tab.page.url).query)
        assert query.get("sort") == ["metrics.val_accuracy"], tab.page.url
        assert query.get("dir") == [shown], tab.page.url
        with ml.store(served.store):
            expected = ml.search_runs(
                "params.model = 'softmax'",
                experiment=EXPERIMENT,
                order_by=[f"metrics.val_accuracy {shown}"],
                limit=50,
            )
        assert listed_ids(tab.page) == [r["id"] for r in expected], f"sorted {shown}"
        # And independently of the service: the numbers shown are in order (blanks last).
        cells = column_values(tab.page, "val_accuracy")
        values = [float(c) for c in cells if c not in ("", "\u2014", "\u2013", "-")]
        assert values == sorted(values, reverse=shown == "desc"), cells
        assert len(set(values)) > 1, "all runs tie: the test would prove nothing"
    tab.watch.assert_clean()


def test_select_two_runs_then_compare(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    a, b = served.facts["compare"]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs?experiment={EXPERIMENT}")
    for run_id in (a, b):
        tab.page.locator(f"tr[data-run='{run_id}'] input[type=checkbox]").check()
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name=re.compile("compare", re.I)).first.click()
    tab.watch.settle(tab.page)
    assert urlsplit(tab.page.url).path == "/compare"
    assert {a, b} <= set(re.findall(r"[0-9a-f]{32}", tab.page.url))
    with ml.store(served.store):
        cmp = ml.compare_runs([a, b])
        names = [ml.get_run(i)["name"] for i in (a, b)]
    text = tab.page.inner_text("body")
    assert all(n in text for n in names)
    assert all(k in text for k in cmp["params"]["differ"]), cmp["params"]["differ"]
    tab.watch.assert_clean()


def stages(served: Any, name: str) -> dict[int, str]:
    with ml.store(served.store):
        return {v["version"]: v["stage"] for v in registry.model_versions(name)}


def stage_badge(page: Any, version: int) -> str:
    text: str = page.locator(f"tr[data-version='{version}'] .badge.stage").inner_text()
    return text.strip().lower()


def ask_to_promote(tab: Any, version: int) -> None:
    row = tab.page.locator(f"tr[data-version='{version}']")
    row.locator("select[name=stage]").select_option("production")
    row.get_by_role("button", name=re.compile("move", re.I)).click()


def test_promote_a_version_moves_the_production_badge(servers: Any, open_tab: Any) -> None:
    served = servers.get("flows")
    name = served.facts["model"]
    before = stages(served, name)
    live = next(v for v, s in before.items() if s == "production")
    target = next(v for v, s in before.items() if s != "production")
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/models/{name}")
    assert stage_badge(tab.page, live) == "production"

    # Cancelling the confirmation changes nothing.
    tab.page.once("dialog", lambda dialog: dialog.dismiss())
    ask_to_promote(tab, target)
    assert stages(served, name) == before
    assert stage_badge(tab.page, live) == "production"

    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    tab.page.once("dialog", accept)
    with tab.page.expect_navigation():
        ask_to_promote(tab, target)
    tab.watch.settle(tab.page)
    assert len(questions) == 1 and f"v{live}" in questions[0], questions  # names the replaced
    after = stages(served, name)
    assert after[target] == "production" and after[live] == "archived", after
    assert stage_badge(tab.page, target) == "production"
    assert stage_badge(tab.page, live) == "archived"
    tab.watch.dialogs.clear()  # the two confirmations were the point of the test
    tab.watch.assert_clean()


def test_add_and_remove_a_tag(servers: Any, open_tab: Any) -> None:
    served = servers.get("flows")
    run_id = served.facts["parent"]
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{run_id}")
    tab.page.get_by_label("Key", exact=True).fill("reviewed-by")
    tab.page.get_by_label("Value", exact=True).fill("ana ✅ <b>x</b>")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Add tag").click()
    tab.watch.settle(tab.page)
    tag = tab.page.locator("#tags .tag", has_text="reviewed-by")
    assert tag.locator(".k").inner_text() == "reviewed-by"
    assert "ana ✅ <b>x</b>" in tag.inner_text()  # as text, not markup
    with ml.store(served.store):
        assert ml.get_tags(run_id)["reviewed-by"] == "ana ✅ <b>x</b>"
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Remove tag reviewed-by").click()
    tab.watch.settle(tab.page)
    assert tab.page.locator("#tags .tag", has_text="reviewed-by").count() == 0
    with ml.store(served.store):
        tags = ml.get_tags(run_id)
    assert "reviewed-by" not in tags and tags, tags  # the other tags stay
    tab.watch.assert_clean()


def test_edit_a_note_with_math(servers: Any, open_tab: Any) -> None:
    served = servers.get("flows")
    run_id = served.facts["compare"][0]
    note = "Loss **dropped**: $\\mathcal{L} = \\sum_i x_i^2$ and\n\n$$e^{i\\pi} + 1 = 0$$"
    tab = open_tab(served)
    goto(tab.page, tab.watch, f"/runs/{run_id}")
    tab.page.locator("#note-editor summary").click()
    tab.page.locator("#note-text").fill(note)
    # The preview renders through the server's sanitiser, without saving.
    tab.page.get_by_role("button", name="Preview").click()
    tab.page.locator("#note-preview strong", has_text="dropped").wait_for()
    with ml.store(served.store):
        assert ml.get_run(run_id)["note"] != note
    tab.page.get_by_role("button", name="Write").click()
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Save note").click()
    tab.watch.settle(tab.page)
    view = tab.page.locator("#note-view")
    view.locator("strong", has_text="dropped").wait_for()
    view.locator(".katex").first.wait_for()  # math typeset in the browser
    assert view.locator(".katex-display").count() == 1  # the $$ block
    assert view.locator(".katex").count() == 2
    with ml.store(served.store):
        assert ml.get_run(run_id)["note"] == note
    tab.watch.assert_clean()


def test_csv_export_equals_export_runs(servers: Any, open_tab: Any) -> None:
    served = servers.get("demo")
    tab = open_tab(served)
    goto(tab.page, tab.watch, "/runs")
    submit_filter(tab, FILTER)
    with tab.page.expect_download() as info:
        tab.page.get_by_role("link", name=re.compile("csv", re.I)).first.click()
    got = Path(info.value.path()).read_text(encoding="utf-8")
    with ml.store(served.store):
        rows = ml.export_runs(filter=FILTER)
    assert rows
    want = export.export_csv(rows)
    got_rows = list(csv.DictReader(io.StringIO(got)))
    want_rows = list(csv.DictReader(io.StringIO(want)))
    assert got_rows == want_rows
    assert got == want
    tab.watch.assert_clean()
