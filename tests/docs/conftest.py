"""The docs are executed: every Python and shell block of README.md and docs/*.md runs here.

Writing docs
============

**What runs.** Fences ```` ```python ```` (``py``, ``python3``) and ```` ```sh ```` (``bash``,
``shell``, ``zsh``) run; other fences (``text``, ``ebnf``, none) never do. A page's blocks run
in order, top to bottom, as one reader would run them in one fresh, empty folder: the Python
blocks share one namespace (like a notebook), the shell blocks share their variables (like one
terminal, ``export`` included), and both use ``./chachaml.db`` there (``CHACHAML_STORE`` is
unset; ``chachaml`` and ``python`` are the test environment's). ``test_doc_blocks.py`` has one
test per page; ``python tests/docs/docblocks.py`` prints how many blocks run and which do not.

**Blocks that must not run** are marked, with the reason, by an HTML comment on the line right
before the fence: ``<!-- not run: needs your own S3 credentials -->``. Such a block is not
collected at all (so it is no skipped test, which fails with ``CI=true``).
``test_doc_meta.py`` fails for a runnable block that is neither run nor marked, for an empty
reason, and for an unknown or misplaced marker. Don't use ``console``/``pycon`` fences with
prompts: write a ``sh``/``python`` block and show the output with ``# ->``.

**A server.** ``<!-- run: server -->`` before a shell block holding one ``chachaml server ...``
command starts it in the background; the page goes on once the server accepts connections (at
most 30 s) and it is stopped after the page. On such a page every ``8080`` becomes a free port.

**What a page takes for granted** (the reader's model ``clf``, data ``X_train``, a file
``roc.png``, a PostgreSQL database, a bucket) comes from ``SETUPS`` in ``test_doc_blocks.py``:
a Python prelude run before the first block, environment variables the page says it assumes
(``URL`` and ``AUTH`` of curl.md), and replacements for placeholders: on those pages
``db.internal``, ``mlops``, ``s3://ml-artifacts/...`` and ``minio.internal:9000`` are replaced
by the test PostgreSQL server and the S3-compatible test server of ``tests/backends.py``.

**Output is checked.**

- Python: ``# -> text`` on a statement's line, or on comment lines right below it, is that
  statement's output: what it prints and, for a bare expression, its ``repr`` (as in the REPL).
  Several ``# ->`` lines are several lines of output; the ``# ->`` lines inside a loop are the
  whole loop's output.
- Shell: each ``# -> text`` is a key line; some line of the block's stdout must match it, in the
  order of the comments (other lines are not checked). Blocks run under ``bash -euo pipefail``,
  so a failing command fails the test; show an intended failure as
  ``chachaml promote churn 9 production || echo "exit code $?"   # -> exit code 4``.
- Matching ignores differences in whitespace, and ``...`` stands for any text: use it for what
  varies (run ids, times, long floats): ``# -> best: lr=0.1 0.939...``,
  ``# -> {'id': '...', 'name': 'first', ...}``.
- Output shown any other way (``>>>`` prompts, "prints:" comments) would not be checked, so
  ``test_doc_meta.py`` refuses it.

**The CLI reference** (docs/cli.md) is generated from the commands' ``--help`` by
``python tests/docs/gen_cli_md.py``; ``test_cli_reference.py`` fails when it is stale.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import backends
from chachaml import context


def _pg_parts() -> dict[str, str]:
    from urllib.parse import urlsplit

    url = urlsplit(backends.pg_base_url())
    return {"pg_host": url.hostname or "127.0.0.1", "pg_user": url.username or "postgres"}


@pytest.fixture
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The test servers the page's ``Setup`` asks for, as ``{placeholder field: value}``."""
    setup: Any = request.node.callspec.params["setup"]
    values: dict[str, str] = {}
    database = None
    if setup.pg_schema:
        values["pg_url"] = backends.pg_url_for(tmp_path)
    if setup.pg_database:
        values.update(_pg_parts())
        database = backends.name_for(tmp_path, "doc_")
        values["pg_db"] = database
        if setup.pg_database == "create":
            backends.pg_execute(f'CREATE DATABASE "{database}"')
    if setup.s3:
        values["s3_endpoint"] = backends.s3_endpoint()
        values["bucket"] = backends.s3_location_for(tmp_path).split("/")[2]
    try:
        yield values
    finally:
        # Close what the page opened (a PostgreSQL pool) before its database goes away.
        leftover = context._reset_for_tests()
        if leftover is not None:
            leftover.close()
        if database is not None:
            backends.pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
