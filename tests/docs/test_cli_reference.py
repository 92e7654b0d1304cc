"""docs/cli.md is generated from the commands' own ``--help`` and cannot drift from the CLI."""

from __future__ import annotations

import gen_cli_md

from chachaml.cli import cli


def test_cli_md_is_the_generated_reference() -> None:
    text = gen_cli_md.DOC.read_text(encoding="utf-8")
    assert text == gen_cli_md.render(), (
        "docs/cli.md is stale: run `.venv/bin/python tests/docs/gen_cli_md.py`"
    )


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    text = gen_cli_md.DOC.read_text(encoding="utf-8")
    missing = []
    for name, command in cli.commands.items():
        if f"## `chachaml {name}`" not in text:
            missing.append(name)
        section = text.split(f"## `chachaml {name}`", 1)[-1].split("\n## ", 1)[0]
        for param in command.params:
            for flag in [*param.opts, *param.secondary_opts]:
                if param.param_type_name == "option" and flag not in section:
                    missing.append(f"{name} {flag}")
    assert missing == []
