"""The docs stay true: the tutorial runs, every CLI command and public name is documented."""

from __future__ import annotations

import re
from pathlib import Path

import chachaml as ml
from chachaml.cli import cli

DOCS = Path(__file__).resolve().parent.parent / "docs"
README = DOCS.parent / "README.md"


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_tutorial_code_runs_as_written() -> None:
    blocks = _python_blocks(DOCS / "tutorial.md")
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "tutorial"}
    exec(compile("\n".join(blocks), "tutorial.md", "exec"), namespace)
    assert ml.experiment("tutorial")["description"] == "Learning chachaml"


def test_every_cli_command_is_in_the_cli_reference() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [name for name in cli.commands if f"`chachaml {name}" not in text]
    assert missing == []


def test_every_public_function_is_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in [*DOCS.glob("*.md"), README])
    public = [n for n in ml.__all__ if not n[0].isupper() and not n.startswith("_")]
    missing = [n for n in public if f"ml.{n}" not in text]
    assert missing == []


def test_readme_setup_is_exactly_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    setup = text.split("## Setup", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert commands == ["make demo", "make test"]
