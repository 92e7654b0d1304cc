"""A missing optional dependency is one clear line naming the extra, not a traceback."""

from __future__ import annotations

import pytest

import chachaml as ml


def test_a_remote_store_without_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "httpx", None)  # as if not installed
    with pytest.raises(ml.InvalidInput, match=r"pip install 'chachaml\[remote\]'"):
        ml.open_store("http://127.0.0.1:9")


def test_a_bad_experiment_description_is_called_a_description(store: ml.Store) -> None:
    with pytest.raises(ml.InvalidInput, match="description contains a NUL"):
        ml.create_experiment("exp", description="a\x00b")
    assert ml.experiments() == []
