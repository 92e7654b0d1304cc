"""The one artifact-name validator: hostile names are refused and never touch the disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import chachaml as ml
from chachaml.artifacts import names
from chachaml.artifacts.local import LocalArtifactStore
from chachaml.errors import InvalidInput

HOSTILE = [
    "../x",
    "..",
    ".",
    "a/../../x",
    "a/..",
    "./x",
    "a/./b",
    "/etc/passwd",
    "//server/share",
    "..\\x",
    "a\\b",
    "C:\\Windows\\system32",
    "C:x",
    "%2e%2e/x",
    "%2E%2E%2Fx",
    "a/%2e%2e/%2e%2e/x",
    "%252e%252e/x",  # double-encoded
    "..%2fx",
    "..%5cx",
    "a\x00b",
    "a\nb",
    "a\rb",
    "tab\tname",
    "bell\x07",
    "del\x7f",
    "c1\x85control",
    "",
    "a//b",
    "trailing/",
    "x" * 256,
    "é" * 128,  # 256 bytes in UTF-8
    "\uff0e\uff0e/x",  # fullwidth dots normalise to ..
    "\u2024\u2024/x",  # one-dot leaders normalise to .
    "a\u202eb",  # right-to-left override
    "zero\u200bwidth",
    "line\u2028sep",
    "\ufeffbom",
    "lone\ud800surrogate",
    "\uff0fetc\uff0fpasswd",  # fullwidth solidus normalises to /
]


@pytest.mark.parametrize("name", HOSTILE, ids=[repr(n)[:40] for n in HOSTILE])
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        names.validate(name)


def test_there_are_at_least_25_hostile_cases() -> None:
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize("value", [None, 3, b"model", ["a"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        names.validate(value)


@pytest.mark.parametrize(
    "name",
    [
        "model",
        "plots/roc.png",
        "a/b/c/d.txt",
        "..hidden-but-not-dotdot",
        "v1.0..2",
        "résumé ✓.md",
        "100%",
        "50%off",
        "with space",
        ".config",
        "x" * 255,
        "日本語/モデル",
    ],
)
def test_ordinary_names_and_subfolders_are_accepted(name: str) -> None:
    assert names.validate(name) == name


def test_hostile_names_create_no_file(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    with ml.store(str(tmp_path / "m.db"), artifacts=str(root)), ml.run() as run:
        ml.log_artifact("ok", b"fine")
        for name in HOSTILE:
            with pytest.raises(InvalidInput):
                ml.log_artifact(name, b"evil")
            with pytest.raises(InvalidInput):
                ml.load_artifact(run.id, name)
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert [c for c in created if not c.startswith("m.db")] == [f"artifacts/{run.id}/ok"]
    assert not (tmp_path.parent / "x").exists()


def test_resolved_paths_stay_under_the_root_even_through_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "run").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, root / "run" / "link")
    blobs = LocalArtifactStore(str(root))
    assert blobs.path_of("run/file") == str((root / "run" / "file").resolve())
    with pytest.raises(InvalidInput, match="outside"):
        blobs.path_of("run/link/evil")
    writer = blobs.writer()
    writer.write(b"evil")
    with pytest.raises(InvalidInput):
        writer.commit("run/link/evil")
    assert list(outside.iterdir()) == []
    assert [o.key for o in blobs.iter_keys()] == []  # symlinks are never listed as objects


def test_store_keys_allow_run_prefix_but_apply_the_same_rules() -> None:
    key = "0" * 32 + "/" + "x" * 255
    assert names.validate(key, "artifact key", names.MAX_KEY_BYTES) == key
    with pytest.raises(InvalidInput):
        names.validate("0" * 32 + "/../x", "artifact key", names.MAX_KEY_BYTES)
