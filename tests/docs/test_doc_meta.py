"""Every code block of the docs is run or marked, and the runner itself checks what it says.

See ``conftest.py`` for the conventions.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import docblocks
import pytest
from docblocks import Block, DocFailure

import chachaml as ml

README = docblocks.ROOT / "README.md"


def _blocks() -> list[Block]:
    return [b for page in docblocks.doc_pages() for b in docblocks.parse(page).blocks]


def test_every_runnable_block_is_run_or_marked_with_a_reason() -> None:
    run_pages = set(docblocks.pages_to_run())
    problems = []
    n_run = n_not_run = 0
    for block in _blocks():
        if block.marker_problem:
            problems.append(f"{block.where}: {block.marker_problem}")
        elif not block.runnable:
            continue
        elif block.runs and block.path in run_pages:
            n_run += 1
        elif block.not_run_reason:
            n_not_run += 1
        else:
            problems.append(f"{block.where}: neither run nor marked `<!-- not run: REASON -->`")
    assert problems == []
    assert n_run >= 25, n_run  # the parser still finds the blocks


def test_markers_sit_right_before_a_fence() -> None:
    dangling = [
        f"{docblocks.rel(page)}:{line}"
        for page in docblocks.doc_pages()
        for line in docblocks.parse(page).dangling_markers
    ]
    assert dangling == []


def test_output_is_only_shown_in_the_checked_form() -> None:
    problems = []
    for block in _blocks():
        if block.lang in docblocks.PROMPT_LANGS:
            problems.append(f"{block.where}: a `{block.lang}` fence (write sh/python and `# ->`)")
        if block.kind == "python" and re.search(r"^\s*>>> |#\s*prints?:", block.code, re.M):
            problems.append(f"{block.where}: output shown with `>>>`/`prints:` (use `# ->`)")
        if not block.runs and "# ->" in block.code and block.runnable:
            problems.append(f"{block.where}: `# ->` output in a block that is not run")
    assert problems == []


def test_chachaml_commands_of_blocks_not_run_still_parse() -> None:
    """A block that is not run still names real commands and options."""
    import click

    from chachaml.cli import cli

    problems = []
    for block in _blocks():
        if block.kind != "shell" or block.runs:
            continue
        for line in block.code.replace("\\\n", " ").splitlines():
            args = shlex.split(line, comments=True)
            if not args or args[0] != "chachaml":
                continue
            try:
                root = cli.make_context("chachaml", args[1:], resilient_parsing=True)
                command = cli.commands[args[1]]
                command.make_context(args[1], args[2:], parent=root)
            except (click.ClickException, KeyError, IndexError) as exc:
                problems.append(f"{block.where}: `{line.strip()}`: {exc}")
    assert problems == []


def test_every_public_function_is_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in docblocks.doc_pages())
    public = [n for n in ml.__all__ if not n[0].isupper() and not n.startswith("_")]
    missing = [n for n in public if f"ml.{n}" not in text]
    assert missing == []


def test_readme_setup_is_exactly_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    setup = text.split("## Setup", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert commands == ["make demo", "make test"]


# -- the runner --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expected", "got", "ok"),
    [
        ("3 staging", "3 staging\n", True),
        ("3  staging", " 3 staging ", True),
        ("3 staging", "2 staging", False),
        ("best: lr=0.1 0.939...", "best: lr=0.1 0.9392116727047153", True),
        ("{'id': '...', 'n': 1}", "{'id': 'abc', 'n': 1}", True),
        ("{'id': '...', 'n': 1}", "{'id': 'abc', 'n': 2}", False),
        ("a...b...c", "a-b-c", True),
        ("a...b...c", "a-c-b", False),
        ("ab...ba", "aba", False),
        ("...", "", True),
    ],
)
def test_ellipsis_match(expected: str, got: str, ok: bool) -> None:
    assert docblocks.ellipsis_match(expected, got) is ok


def _page(tmp_path: Path, text: str) -> docblocks.Page:
    path = tmp_path / "page.md"
    path.write_text(text, encoding="utf-8")
    return docblocks.parse(path)


def _run(tmp_path: Path, text: str) -> dict[str, object]:
    page = _page(tmp_path, text)
    namespace: dict[str, object] = {}
    docblocks.run_page(
        page,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        subs={},
        namespace=namespace,
        state=tmp_path / "state.sh",
    )
    return namespace


def test_python_output_comments_are_checked(tmp_path: Path) -> None:
    ns = _run(
        tmp_path,
        "```python\nx = 2\nprint(x + 1)   # -> 3\nx * 10\n# -> 20\nfor i in range(2):\n"
        "    print(i)   # -> 0\n# -> 1\n```\n",
    )
    assert ns["x"] == 2
    with pytest.raises(DocFailure, match=r"page.md:3: the output differs"):
        _run(tmp_path, "```python\nx = 2\nprint(x)   # -> 3\n```\n")


def test_a_failing_block_fails_with_its_markdown_line(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError) as info:
        _run(tmp_path, "text\n\n```python\nx = 1\n1 / 0\n```\n")
    assert info.traceback[-1].lineno + 1 == 5
    with pytest.raises(DocFailure, match=r"page.md:1: exit code 3"):
        _run(tmp_path, "```sh\nexit 3\n```\n")


def test_shell_blocks_share_variables_and_check_key_lines(tmp_path: Path) -> None:
    _run(
        tmp_path,
        '```sh\nA=1\nexport B=two\n```\n\n```bash\necho "$A $B"   # -> 1 two\n'
        "printf 'x\\ny\\nz\\n'   # -> x\n# -> z\n```\n",
    )
    with pytest.raises(DocFailure, match="no output line"):
        _run(tmp_path, "```sh\nprintf 'z\\nx\\n'   # -> x\n# -> z\n```\n")


def test_marked_blocks_do_not_run_and_bad_markers_are_found(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "<!-- not run: it would fail -->\n```sh\nexit 1\n```\n\n"
        "<!-- not run: -->\n```sh\nexit 1\n```\n\n"
        "<!-- run: later -->\n```python\n1/0\n```\n\n"
        "<!-- not run: a text block -->\n```text\nx\n```\n\n"
        "<!-- not run: nothing below -->\n\nprose\n\n<!-- just a comment -->\n```sh\ntrue\n```\n",
    )
    assert [b.runs for b in page.blocks] == [False, False, False, False, True]
    assert page.blocks[0].not_run_reason == "it would fail"
    assert [bool(b.marker_problem) for b in page.blocks] == [False, True, True, True, False]
    assert page.dangling_markers == (21,)
    assert (
        docblocks.run_page(
            page,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin"},
            subs={},
            namespace={},
            state=tmp_path / "state.sh",
        )
        == 1
    )
