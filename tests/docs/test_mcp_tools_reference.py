"""docs/mcp-tools.md is generated from the tools' schemas and cannot drift from them."""

from __future__ import annotations

import gen_mcp_tools_md

from chachaml import tools


def test_mcp_tools_md_is_the_generated_reference() -> None:
    text = gen_mcp_tools_md.DOC.read_text(encoding="utf-8")
    assert text == gen_mcp_tools_md.render(), (
        "docs/mcp-tools.md is stale: run `.venv/bin/python tests/docs/gen_mcp_tools_md.py`"
    )


def test_every_tool_and_argument_is_in_the_reference() -> None:
    text = gen_mcp_tools_md.DOC.read_text(encoding="utf-8")
    missing = []
    for tool in tools.TOOLS:
        section = text.split(f"## `{tool.name}`", 1)
        if len(section) == 1:
            missing.append(tool.name)
            continue
        body = section[1].split("\n## ", 1)[0]
        missing += [
            f"{tool.name} {arg}"
            for arg in tool.input_schema["properties"]
            if f"| `{arg}` |" not in body
        ]
    assert missing == []
