"""The one artifact-name validator: hostile names are refused and never touch the disk, names
that cannot be files on Windows or macOS are refused with a message naming the problem, and
Unicode twins (NFC/NFD) are one name."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

import chachaml as ml
from chachaml.artifacts import names
from chachaml.artifacts.local import LocalArtifactStore
from chachaml.errors import AlreadyExists, InvalidInput

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


# Names that break on Windows or macOS, with the words the error must contain.
NOT_PORTABLE = [
    ("CON", "reserved Windows device name 'CON'"),
    ("nul", "reserved Windows device name 'NUL'"),
    ("aux.txt", "reserved Windows device name 'AUX'"),
    ("plots/COM1/roc.png", "reserved Windows device name 'COM1'"),
    ("LPT9", "reserved Windows device name 'LPT9'"),
    ("lpt9.tar.gz", "reserved Windows device name 'LPT9'"),
    ("Prn", "reserved Windows device name 'PRN'"),
    ("com\u00b9.txt", "reserved Windows device name 'COM\u00b9'"),
    ("conin$", "reserved Windows device name 'CONIN$'"),
    ("a/nul .txt", "reserved Windows device name 'NUL'"),
    ("report.", "ending in a dot or a space"),
    ("dir./x", "ending in a dot or a space"),
    ("trailing space ", "ending in a dot or a space"),
    ("dir /x", "ending in a dot or a space"),
    ("...", "ending in a dot or a space"),
    ("a*b", "contains '*'"),
    ("what?", "contains '?'"),
    ("<tag>", "contains '<'"),
    ("a>b", "contains '>'"),
    ("a|b", "contains '|'"),
    ('say"hi"', "contains '\"'"),
    ("a:b", "contains ':'"),
    ("plots/x:y.png", "contains ':'"),
]


@pytest.mark.parametrize(("name", "problem"), NOT_PORTABLE, ids=[n for n, _ in NOT_PORTABLE])
def test_names_that_break_on_windows_or_macos_are_refused(name: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as info:
        names.validate(name)
    assert problem in str(info.value)
    assert repr(name) in str(info.value)


def test_a_colon_is_reported_as_a_colon_not_as_an_absolute_path() -> None:
    with pytest.raises(InvalidInput) as info:
        names.validate("a:b")
    message = str(info.value)
    assert "absolute" not in message
    assert "':'" in message and "Windows" in message and "drive letter" in message
    with pytest.raises(InvalidInput) as info:
        names.validate("epoch:3")
    assert "':'" in str(info.value) and "drive letter" not in str(info.value)


@pytest.mark.parametrize(
    "name", ["console", "conx.txt", "com10", "lpt", "nul_results", "CONFIG/x", "a.b", "a .b"]
)
def test_names_that_merely_resemble_device_names_are_accepted(name: str) -> None:
    assert names.validate(name) == name


def test_nfc_and_nfd_spellings_are_one_name(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "plots/résumé.txt")
    nfc = unicodedata.normalize("NFC", nfd)
    assert nfd != nfc
    assert names.validate(nfd) == nfc and names.validate(nfc) == nfc
    with ml.store(str(tmp_path / "m.db"), artifacts=str(tmp_path / "a")), ml.run() as run:
        row = ml.log_artifact(nfd, "first")
        assert row["name"] == nfc and row["path"] == f"{run.id}/{nfc}"
        assert ml.load_artifact(run.id, nfc) == "first"
        assert ml.load_artifact(run.id, nfd) == "first"
        with pytest.raises(AlreadyExists):
            ml.log_artifact(nfc, "second")
        assert [a["name"] for a in ml.list_artifacts(run.id)] == [nfc]
    files = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [nfc.split("/")[-1]] and files[0].read_text() == "first"


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
        for name in [*HOSTILE, *(n for n, _ in NOT_PORTABLE)]:
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
