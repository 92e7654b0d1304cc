"""Find the code blocks of the markdown docs and run them (the conventions: ``conftest.py``).

Used by ``test_doc_blocks.py`` (runs every page) and ``test_doc_meta.py`` (checks that every
block is run or marked). ``python tests/docs/docblocks.py`` prints the block counts per page.
"""

from __future__ import annotations

import ast
import contextlib
import io
import queue
import re
import shlex
import subprocess
import sys
import threading
import time
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON_LANGS = frozenset({"python", "py", "python3"})
SHELL_LANGS = frozenset({"sh", "bash", "shell", "zsh"})
#: Fences with prompts: refused by the meta-test (write ``sh``/``python`` and ``# ->`` instead).
PROMPT_LANGS = frozenset({"console", "pycon", "shell-session"})
RUNNABLE_LANGS = PYTHON_LANGS | SHELL_LANGS

_MARKER = re.compile(r"^<!--\s*(not run|run)\s*:\s*(.*?)\s*-->\s*$", re.S)
_ANY_MARKER_LIKE = re.compile(r"^<!--\s*(not[ _-]?run|run|skip|no[ _-]?test)\b", re.I)
_EXPECT = re.compile(r"#\s*->\s?(.*)$")
SHELL_TIMEOUT = 120.0
SERVER_START_TIMEOUT = 30.0


def doc_pages() -> list[Path]:
    """README.md and every page of docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def pages_to_run() -> list[Path]:
    """The pages with at least one block to run: one test each in test_doc_blocks.py."""
    return [page for page in doc_pages() if parse(page).run_blocks]


def rel(path: Path) -> str:
    """``docs/x.md`` for a page of the repository (else the file name)."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


@dataclass(frozen=True)
class Block:
    """One fenced code block of a markdown page."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None  # the HTML comment right before the fence, if any

    @property
    def where(self) -> str:
        return f"{rel(self.path)}:{self.line}"

    @property
    def kind(self) -> str:
        if self.lang in PYTHON_LANGS:
            return "python"
        if self.lang in SHELL_LANGS:
            return "shell"
        return "other"

    @property
    def runnable(self) -> bool:
        return self.kind != "other"

    def _marker(self) -> tuple[str, str] | None:
        if self.marker is None:
            return None
        found = _MARKER.match(self.marker)
        return (found.group(1), found.group(2)) if found else None

    @property
    def not_run_reason(self) -> str | None:
        """The reason given by ``<!-- not run: REASON -->`` ('' for an empty reason)."""
        marker = self._marker()
        return marker[1] if marker and marker[0] == "not run" else None

    @property
    def run_mode(self) -> str | None:
        """``server`` for ``<!-- run: server -->``; ``None`` without a ``run:`` marker."""
        marker = self._marker()
        return marker[1] if marker and marker[0] == "run" else None

    @property
    def marker_problem(self) -> str | None:
        """Why the marker before this block is not a valid one (``None``: fine or no marker)."""
        if self.marker is None:
            return None
        marker = self._marker()
        if marker is None:
            if _ANY_MARKER_LIKE.match(self.marker):
                return f"unknown marker {self.marker!r}"
            return None  # some other comment: not a marker
        if not self.runnable:
            return f"marker {self.marker!r} before a {self.lang or 'plain'} block (never run)"
        kind, value = marker
        if kind == "not run" and not value:
            return "`<!-- not run: REASON -->` needs a reason"
        if kind == "run" and value != "server":
            return f"unknown `run:` mode {value!r} (known: server)"
        if kind == "run" and self.kind != "shell":
            return "`<!-- run: server -->` goes before a shell block"
        return None

    @property
    def runs(self) -> bool:
        """Run by the page's test: runnable, and not marked `not run` (nor wrongly marked)."""
        return self.runnable and self.not_run_reason is None and self.marker_problem is None


@dataclass(frozen=True)
class Page:
    path: Path
    blocks: tuple[Block, ...]
    dangling_markers: tuple[int, ...]  # lines of markers that are not right before a fence

    @property
    def run_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.runs]


def parse(path: Path) -> Page:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    blocks: list[Block] = []
    used: set[int] = set()
    markers: dict[int, tuple[int, str]] = {}  # end line -> (index, text)
    for i, tok in enumerate(tokens):
        if tok.type == "html_block" and tok.map and tok.content.lstrip().startswith("<!--"):
            markers[tok.map[1]] = (i, tok.content.strip())
        if tok.type != "fence" or not tok.map:
            continue
        lang = (tok.info.split() or [""])[0].lower()
        before = markers.get(tok.map[0])
        if before is not None:
            used.add(before[0])
        blocks.append(Block(path, tok.map[0] + 1, lang, tok.content, before[1] if before else None))
    dangling = tuple(
        tokens[i].map[0] + 1  # type: ignore[index]
        for _, (i, text) in markers.items()
        if i not in used and _ANY_MARKER_LIKE.match(text)
    )
    return Page(path, tuple(blocks), dangling)


# -- expected output ---------------------------------------------------------------------------
def normalise(text: str) -> str:
    return " ".join(text.split())


def ellipsis_match(expected: str, got: str) -> bool:
    """``expected`` equals ``got`` up to whitespace, ``...`` standing for any text."""
    want, have = normalise(expected), normalise(got)
    pieces = want.split("...")
    if len(pieces) == 1:
        return want == have
    start, end = 0, len(have)
    if pieces[0]:
        if not have.startswith(pieces[0]):
            return False
        start = len(pieces[0])
    if pieces[-1]:
        if not have.endswith(pieces[-1]) or len(have) - len(pieces[-1]) < start:
            return False
        end = len(have) - len(pieces[-1])
    for piece in pieces[1:-1]:
        found = have.find(piece, start, end)
        if found < 0:
            return False
        start = found + len(piece)
    return start <= end


def _python_expectations(code: str) -> dict[int, list[str]]:
    """``# -> text`` comments by their (0-based) line in ``code``."""
    found: dict[int, list[str]] = {}
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            match = _EXPECT.match(tok.string)
            if match:
                found.setdefault(tok.start[0] - 1, []).append(match.group(1))
    return found


def shell_expectations(code: str) -> list[str]:
    out = []
    for line in code.splitlines():
        match = re.search(r"(?:^|\s)" + _EXPECT.pattern, line)
        if match:
            out.append(match.group(1))
    return out


class DocFailure(AssertionError):
    """A block failed or printed something else than its ``# ->`` comments say."""


# -- running -----------------------------------------------------------------------------------
def substitute(code: str, subs: dict[str, str]) -> str:
    for old in sorted(subs, key=len, reverse=True):
        code = code.replace(old, subs[old])
    return code


def run_python(block: Block, code: str, namespace: dict[str, Any]) -> None:
    """Run ``code`` statement by statement in ``namespace``; check the ``# ->`` output."""
    tree = ast.parse(code, filename=str(block.path))
    ast.increment_lineno(tree, block.line)  # tracebacks point at the markdown lines
    expectations = _python_expectations(code)
    statements = tree.body
    if statements and expectations and min(expectations) < statements[0].lineno - block.line - 1:
        raise DocFailure(f"{block.where}: a `# ->` comment before the first statement")
    for k, stmt in enumerate(statements):
        # A statement's expected output: the `# ->` comments on its lines and on the lines
        # after it, up to the next statement, in order.
        first = stmt.lineno - block.line - 1
        stop = statements[k + 1].lineno - block.line - 1 if k + 1 < len(statements) else 10**9
        expected = [
            text
            for line in sorted(expectations)
            if first <= line < stop
            for text in expectations[line]
        ]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            if isinstance(stmt, ast.Expr):
                expression = compile(ast.Expression(stmt.value), str(block.path), "eval")
                value = eval(expression, namespace)
                if value is not None and expected:
                    print(repr(value))
            else:
                module = ast.Module(body=[stmt], type_ignores=[])
                exec(compile(module, str(block.path), "exec"), namespace)
        got = buffer.getvalue()
        sys.stdout.write(got)
        if expected and not ellipsis_match("\n".join(expected), got):
            raise DocFailure(
                f"{rel(block.path)}:{stmt.lineno}: the output differs from its `# ->` comment\n"
                f"expected: {chr(10).join(expected)}\n"
                f"got:      {got.rstrip()}"
            )


_SHELL_NOISE = re.compile(
    r"^(BASH.*|_|PIPESTATUS|COLUMNS|LINES|OLDPWD|PWD|SHLVL|RANDOM|SECONDS|LINENO|SRANDOM|"
    r"EPOCH.*|HISTCMD|FUNCNAME|GROUPS|DIRSTACK|OPTIND|OPTARG|PPID|UID|EUID|__doc_.*)$"
)


def run_shell(block: Block, code: str, *, cwd: Path, env: dict[str, str], state: Path) -> str:
    """Run ``code`` with bash in ``cwd``; variables persist to the next block via ``state``."""
    noise = _SHELL_NOISE.pattern
    script = f"""set -euo pipefail
__doc_baseline=$(compgen -v | sort)
if [ -f {shlex.quote(str(state))} ]; then source {shlex.quote(str(state))}; fi
{code}
__doc_new=$(comm -13 <(printf '%s\\n' "$__doc_baseline") <(compgen -v | sort) \\
  | grep -Ev {shlex.quote(noise)} || true)
for __doc_v in $__doc_new; do declare -p "$__doc_v"; done > {shlex.quote(str(state))}
"""
    try:
        out = subprocess.run(
            ["bash", "-c", script],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=SHELL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DocFailure(f"{block.where}: did not finish in {SHELL_TIMEOUT:.0f} s") from exc
    if out.returncode != 0:
        raise DocFailure(
            f"{block.where}: exit code {out.returncode}\n--- block ---\n{code}"
            f"--- stdout ---\n{out.stdout}--- stderr ---\n{out.stderr}"
        )
    lines = out.stdout.splitlines()
    position = 0
    for want in shell_expectations(code):
        while position < len(lines) and not ellipsis_match(want, lines[position]):
            position += 1
        if position == len(lines):
            raise DocFailure(
                f"{block.where}: no output line (after the previous match) matches "
                f"`# -> {want}`\n--- stdout ---\n{out.stdout}"
            )
        position += 1
    sys.stdout.write(out.stdout)
    return out.stdout


class BackgroundServer:
    """A ``<!-- run: server -->`` block, started in the background until the page is done."""

    def __init__(self, block: Block, code: str, *, cwd: Path, env: dict[str, str]) -> None:
        self.block = block
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        command = " ".join(line.rstrip("\\").strip() for line in code.strip().splitlines())
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Returns once the server logs that it accepts connections (uvicorn's line)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                self.stop()
                raise DocFailure(
                    f"{self.block.where}: the server did not start in {timeout:.0f} s\n"
                    + "".join(self.output)
                ) from None
            if line is None:
                self.stop()
                raise DocFailure(f"{self.block.where}: the server exited\n" + "".join(self.output))
            self.output.append(line)
            if "Uvicorn running on" in line:
                return

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._reader.join(timeout=15)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def background_servers() -> Iterator[list[BackgroundServer]]:
    servers: list[BackgroundServer] = []
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def run_page(
    page: Page,
    *,
    cwd: Path,
    env: dict[str, str],
    subs: dict[str, str],
    namespace: dict[str, Any],
    state: Path,
) -> int:
    """Run every block of ``page`` that is not marked ``not run``, in order; returns how many."""
    ran = 0
    with background_servers() as servers:
        for block in page.blocks:
            if not block.runs:
                continue
            code = substitute(block.code, subs)
            if block.run_mode == "server":
                server = BackgroundServer(block, code, cwd=cwd, env=env)
                servers.append(server)
                server.wait_ready()
            elif block.kind == "python":
                run_python(block, code, namespace)
            else:
                run_shell(block, code, cwd=cwd, env=env, state=state)
            ran += 1
    return ran


def counts() -> dict[str, tuple[int, int]]:
    """``{page: (blocks run, blocks marked not run)}`` over runnable blocks."""
    result = {}
    for path in doc_pages():
        page = parse(path)
        runnable = [b for b in page.blocks if b.runnable]
        if runnable:
            result[rel(path)] = (len(page.run_blocks), len(runnable) - len(page.run_blocks))
    return result


if __name__ == "__main__":
    total_run = total_not = 0
    for name, (n_run, n_not) in counts().items():
        print(f"{name:24} run {n_run:3}   not run {n_not:3}")
        total_run, total_not = total_run + n_run, total_not + n_not
    print(f"{'total':24} run {total_run:3}   not run {total_not:3}")
    for path in doc_pages():
        for block in parse(path).blocks:
            if block.not_run_reason is not None:
                print(f"  not run {block.where}: {block.not_run_reason}")
