"""Random register/promote sequences (some from several threads at once) never break the
registry's invariants: at most one production version per model, unique versions, and a stage
history that explains every version's current stage."""

from __future__ import annotations

import shutil
import tempfile
import threading

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import chachaml as ml
from chachaml import registry
from chachaml.errors import NotFound

MODELS = st.sampled_from(["a", "b"])
STAGES = st.sampled_from(list(registry.STAGES))


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="chachaml-stateful-")
        self.store = ml.open_store(f"{self.dir}/r.db", artifacts=f"{self.dir}/blobs")
        with ml.run(store=self.store) as run:
            run.log_artifact("model", b"weights")
        self.run_id = run.id
        # The expected stage of every version, per model (the model of the system).
        self.expected: dict[str, dict[int, str]] = {}
        self.seen_versions: dict[str, int] = {}

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _apply(self, model: str, version: int, stage: str) -> None:
        stages = self.expected.setdefault(model, {})
        if stage == "production":
            for v, s in stages.items():
                if s == "production" and v != version:
                    stages[v] = "archived"
        stages[version] = stage

    @rule(model=MODELS, stage=STAGES)
    def register(self, model: str, stage: str) -> None:
        v = registry.register_model(model, run_id=self.run_id, stage=stage, store=self.store)
        assert v["version"] == len(self.expected.get(model, {})) + 1
        self._apply(model, v["version"], stage)

    @rule(model=MODELS, version=st.integers(1, 8), stage=STAGES)
    def promote(self, model: str, version: int, stage: str) -> None:
        if version in self.expected.get(model, {}):
            assert registry.promote(model, version, stage, store=self.store)["stage"] == stage
            self._apply(model, version, stage)
        else:
            try:
                registry.promote(model, version, stage, store=self.store)
            except NotFound:
                pass  # nothing may change: the invariants below compare with `expected`
            else:
                raise AssertionError("promoting a missing version must raise NotFound")

    @rule(model=MODELS, n=st.integers(2, 4), data=st.data())
    def concurrent(self, model: str, n: int, data: st.DataObject) -> None:
        """``n`` threads at once: some register, some promote existing versions to production."""
        known = sorted(self.expected.get(model, {}))
        plans = [
            data.draw(st.sampled_from(["register", *(["promote"] if known else [])]))
            for _ in range(n)
        ]
        targets = [data.draw(st.sampled_from(known)) if p == "promote" else 0 for p in plans]
        barrier = threading.Barrier(n)
        errors: list[BaseException] = []

        def work(plan: str, target: int) -> None:
            try:
                barrier.wait(timeout=30)
                if plan == "register":
                    registry.register_model(
                        model, run_id=self.run_id, stage="production", store=self.store
                    )
                else:
                    registry.promote(model, target, "production", store=self.store)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=pt) for pt in zip(plans, targets, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        # The order is up to the scheduler; re-sync the model, then check what must hold.
        actual = {
            v["version"]: v["stage"] for v in registry.model_versions(model, store=self.store)
        }
        before = self.expected.get(model, {})
        assert len(actual) == len(before) + plans.count("register")
        promoted = {t for t in targets if t} | (set(actual) - set(before))
        (winner,) = [v for v, s in actual.items() if s == "production"]
        assert winner in promoted
        for v, old in before.items():
            if v not in promoted and v != winner:
                assert actual[v] == ("archived" if old == "production" else old)
        self.expected[model] = actual

    @invariant()
    def matches_the_model_and_keeps_one_production(self) -> None:
        for model, stages in self.expected.items():
            versions = registry.model_versions(model, store=self.store)
            numbers = [v["version"] for v in versions]
            assert numbers == list(range(1, len(numbers) + 1))  # unique, gap-free
            assert {v["version"]: v["stage"] for v in versions} == stages
            assert sum(v["stage"] == "production" for v in versions) <= 1
            assert len(numbers) >= self.seen_versions.get(model, 0)  # nothing disappears
            self.seen_versions[model] = len(numbers)

    @invariant()
    def history_explains_every_stage(self) -> None:
        for model in self.expected:
            found = registry.model(model, store=self.store)
            last: dict[int, str | None] = {}
            for event in found["history"]:
                assert event["from_stage"] == last.get(event["version"])
                last[event["version"]] = event["to_stage"]
            assert last == {v["version"]: v["stage"] for v in found["versions"]}
            prod = [v["version"] for v in found["versions"] if v["stage"] == "production"]
            assert found["production_version"] == (prod[0] if prod else None)


RegistryMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRegistryStateful = RegistryMachine.TestCase
