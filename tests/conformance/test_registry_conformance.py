"""The model registry, backend-agnostic: versions, stages, the production guarantee, loading."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import chachaml as ml
from chachaml import registry
from chachaml.errors import InvalidInput, NoActiveRun, NotFound


def _trained(value: Any, name: str = "model", experiment: str = "reg") -> str:
    with ml.run(experiment=experiment) as run:
        ml.log_param("value", str(value))
        ml.log_metric("acc", float(len(str(value))))
        ml.log_artifact(name, value)
    return run.id


def _stages(name: str) -> dict[int, str]:
    return {v["version"]: v["stage"] for v in registry.model_versions(name)}


def test_versions_number_from_one_and_point_at_the_run_artifact(
    conformance_store: ml.Store,
) -> None:
    r1, r2 = _trained("a"), _trained("bb")
    v1 = registry.register_model("clf", run_id=r1)
    v2 = registry.register_model("clf", run_id=r2, stage="staging", description="*second*")
    assert (v1["version"], v1["run_id"], v1["artifact"], v1["stage"]) == (1, r1, "model", "none")
    assert (v2["version"], v2["stage"], v2["description"]) == (2, "staging", "*second*")
    assert registry.model_versions("clf") == [v1, v2]
    (listed,) = registry.models()
    assert listed["latest_version"] == 2 and listed["production_version"] is None
    assert listed["version_count"] == 2


def test_register_inside_a_run_uses_the_current_run(conformance_store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_artifact("weights", [1, 2, 3])
        version = ml.registry.register_model("m", artifact="weights")
    assert version["run_id"] == run.id
    assert registry.load_model("m", 1) == [1, 2, 3]
    with pytest.raises(NoActiveRun):
        registry.register_model("m")


def test_register_without_the_artifact_raises_not_found_and_creates_nothing(
    conformance_store: ml.Store,
) -> None:
    run_id = _trained("a")
    with pytest.raises(NotFound):
        registry.register_model("m", artifact="missing", run_id=run_id)
    with pytest.raises(NotFound):
        registry.register_model("m", run_id="f" * 32)
    assert registry.models() == []
    with pytest.raises(InvalidInput):
        registry.register_model("m", run_id=run_id, stage="prod")
    with pytest.raises(InvalidInput):
        registry.register_model("m", artifact="../x", run_id=run_id)


def test_promoting_to_production_archives_the_previous_production(
    conformance_store: ml.Store,
) -> None:
    ids = [_trained(i) for i in range(3)]
    for run_id in ids:
        registry.register_model("m", run_id=run_id)
    registry.promote("m", 1, "production")
    assert _stages("m") == {1: "production", 2: "none", 3: "none"}
    promoted = registry.promote("m", 3, "production")
    assert promoted["stage"] == "production"
    assert _stages("m") == {1: "archived", 2: "none", 3: "production"}
    assert registry.models()[0]["production_version"] == 3
    registry.register_model("m", run_id=ids[1], stage="production")
    assert _stages("m") == {1: "archived", 2: "none", 3: "archived", 4: "production"}
    history = [
        (e["version"], e["from_stage"], e["to_stage"]) for e in registry.model("m")["history"]
    ]
    assert history == [
        (1, None, "none"),
        (2, None, "none"),
        (3, None, "none"),
        (1, "none", "production"),
        (1, "production", "archived"),
        (3, "none", "production"),
        (3, "production", "archived"),
        (4, None, "production"),
    ]


def test_promoting_a_missing_version_keeps_production(conformance_store: ml.Store) -> None:
    run_id = _trained("a")
    registry.register_model("m", run_id=run_id, stage="production")
    registry.register_model("m", run_id=run_id)
    before = registry.model("m")
    with pytest.raises(NotFound):
        registry.promote("m", 99, "production")
    with pytest.raises(NotFound):
        registry.promote("ghost", 1, "production")
    assert registry.model("m") == before
    assert registry.load_model("m") == "a"


def test_stage_names_in_the_version_slot_are_refused(conformance_store: ml.Store) -> None:
    registry.register_model("m", run_id=_trained("v1"), stage="production")
    registry.register_model("m", run_id=_trained("v2"), stage="staging")
    with pytest.raises(InvalidInput, match="stage='production'"):
        registry.load_model("m", "production")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        registry.promote("m", "staging", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        registry.load_model("m", True)
    with pytest.raises(InvalidInput):
        registry.load_model("m", 1, stage="staging")
    assert registry.load_model("m") == "v1"
    assert registry.load_model("m", stage="production") == "v1"
    assert registry.load_model("m", stage="staging") == "v2"
    assert registry.load_model("m", 2) == "v2"
    assert registry.load_model("m", version=1) == "v1"


def test_load_model_without_production_raises_not_found(conformance_store: ml.Store) -> None:
    registry.register_model("m", run_id=_trained("a"))
    with pytest.raises(NotFound, match="production"):
        registry.load_model("m")
    with pytest.raises(NotFound):
        registry.load_model("m", 2)
    with pytest.raises(NotFound):
        registry.load_model("ghost")
    with pytest.raises(NotFound):
        registry.model("ghost")
    with pytest.raises(NotFound):
        registry.model_versions("ghost")


def test_model_descriptions_live_on_the_model_not_on_experiments(
    conformance_store: ml.Store,
) -> None:
    ml.create_experiment("reg", description="experiment text")
    registry.register_model("reg", run_id=_trained("a"))
    updated = registry.set_model_description("reg", "## Churn model\n\n$y = f(x)$")
    assert updated["description"] == "## Churn model\n\n$y = f(x)$"
    assert registry.model("reg")["description"] == updated["description"]
    assert ml.experiment("reg")["description"] == "experiment text"
    assert [e["name"] for e in ml.experiments()] == ["reg"]
    with pytest.raises(NotFound):
        registry.set_model_description("ghost", "text")


def test_diff_versions_compares_the_source_runs(conformance_store: ml.Store) -> None:
    a, b = _trained("short"), _trained("much longer")
    registry.register_model("m", run_id=a)
    registry.register_model("m", run_id=b)
    diff = registry.diff_versions("m", 1, 2)
    assert [v["version"] for v in diff["versions"]] == [1, 2]
    assert diff["params"]["differ"]["value"] == {a: "short", b: "much longer"}
    assert {i: m["last"] for i, m in diff["metrics"]["differ"]["acc"].items()} == {a: 5.0, b: 11.0}
    with pytest.raises(NotFound):
        registry.diff_versions("m", 1, 3)


def test_concurrent_registration_keeps_versions_unique(conformance_store: ml.Store) -> None:
    st = conformance_store
    run_id = _trained("a")
    errors: list[BaseException] = []

    def register(worker: int) -> None:
        try:
            for i in range(10):
                stage = "production" if (worker + i) % 3 == 0 else "none"
                registry.register_model("m", run_id=run_id, stage=stage, store=st)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = registry.model_versions("m")
    assert [v["version"] for v in versions] == list(range(1, 81))
    assert sum(v["stage"] == "production" for v in versions) == 1
