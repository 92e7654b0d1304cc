"""Terminal and notebook rendering of runs (rich and HTML)."""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

import chachaml as ml
from chachaml import display, formatting


def console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200, color_system=None), buf


def test_value_and_duration_formatting() -> None:
    assert formatting.fmt_value(math.nan) == "nan"
    assert formatting.fmt_value(1 / 3) == "0.333333"
    assert formatting.fmt_value({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    assert formatting.fmt_value(None) == ""
    assert formatting.fmt_duration(None) == ""
    assert formatting.fmt_duration(13) == "13ms"  # a quick run is not shown as 0.0s
    assert formatting.fmt_duration(999) == "999ms"
    assert formatting.fmt_duration(1500) == "1.5s"
    assert formatting.fmt_duration(125_000) == "2m05s"
    assert formatting.fmt_duration(3_725_000) == "1h02m"
    assert formatting.fmt_time(None) == ""


def test_inspect_prints_every_section_of_a_run(store: ml.Store) -> None:
    with pytest.raises(ValueError, match="boom"), ml.run(experiment="d", name="shown") as run:
        ml.log_params({"lr": 0.1})
        ml.log_metric("acc", 0.75)
        ml.log_tag("team", "vision")
        ml.log_dataset(n_rows=10, n_cols=2, role="test", hash="abcdef0123456789")
        raise ValueError("boom")
    ml.set_note(run.id, "# Heading\n\nsome *text*")
    out, buf = console()
    display.inspect(run.id, console=out)
    text = buf.getvalue()
    for expected in ("shown", "lr", "0.1", "acc", "0.75", "team", "vision", "test", "abcdef012345"):
        assert expected in text
    assert "Heading" in text
    assert "ValueError: boom" in text
    with pytest.raises(ml.NotFound):
        display.inspect("0" * 32)


def test_runs_table_and_comparison(store: ml.Store) -> None:
    ids = []
    for lr in (0.1, 0.2):
        with ml.run(experiment="d", name=f"lr{lr}") as run:
            ml.log_params({"lr": lr, "model": "rf"})
            ml.log_metric("acc", lr * 4)
        ids.append(run.id)
    with ml.run(experiment="d", name="partial") as run:
        ml.log_param("extra", True)
    ids.append(run.id)
    out, buf = console()
    display.runs_table(experiment="d", metrics=["acc"], console=out)
    text = buf.getvalue()
    assert "3 runs" in text and "lr0.1" in text and "0.8" in text
    out, buf = console()
    display.print_comparison(ml.compare_runs(ids[:2]), console=out)
    rows = {line.split("│")[1].strip(): line for line in buf.getvalue().splitlines() if "│" in line}
    assert "differ" in rows["lr"] and "0.1" in rows["lr"] and "0.2" in rows["lr"]
    assert "same" in rows["model"]
    assert "0.4" in rows["acc"] and "0.8" in rows["acc"]
    out, buf = console()
    display.print_comparison(ml.compare_runs(ids), console=out)
    rows = {line.split("│")[1].strip(): line for line in buf.getvalue().splitlines() if "│" in line}
    assert "partial" in rows["extra"] and "—" in rows["extra"]


def test_run_dicts_render_as_escaped_html_in_notebooks(store: ml.Store) -> None:
    with ml.run(experiment="d", name="<script>alert(1)</script>") as run:
        ml.log_param("k", "<b>")
    got = ml.get_run(run.id)
    assert got is not None
    html = got._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "params.k" in html and "&lt;b&gt;" in html
    assert isinstance(got, dict)


def test_alerts_and_their_history_render_as_escaped_html_tables(store: ml.Store) -> None:
    hostile = "<script>alert(1)</script>"
    ml.set_alert("weak", "acc", "<", 0.5, experiment=hostile)
    with ml.run(experiment=hostile, name=hostile):
        ml.log_metric("acc", 0.1)
    ml.check_alerts()
    one = ml.alert("weak")
    assert isinstance(one, dict) and one["experiment"] == hostile  # plain data
    for html in (one._repr_html_(), ml.alerts()._repr_html_(), ml.alert_history()._repr_html_()):
        assert "<table>" in html and "<script>" not in html and "&lt;script&gt;" in html
    history = ml.alert_history()
    assert isinstance(history, list) and history[0]["run_name"] == hostile
    assert ml.alert_history(name="weak")._repr_html_().count("<tr>") == 2  # header + 1 event
    assert ml.alerts(store=store) == [one]
