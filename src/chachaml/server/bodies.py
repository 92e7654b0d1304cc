"""Request bodies under hostile clients: bounded memory, stall timeouts, JSON sanity.

* :class:`Budget` — the bytes of JSON bodies held in memory at once, across all requests. A
  JSON body reserves its ``Content-Length`` (or the per-request cap when it is chunked) before a
  byte is read; when the budget is spent it waits, unread (the kernel's socket buffer and TCP
  flow control hold the client back), and gets 503 after ``Settings.body_timeout``.
* :func:`receive_with_timeout` — a body that sends nothing for ``body_timeout`` seconds gets
  408 (:class:`~chachaml.server.errors.BodyTimeout`).
* :func:`json_problem` — what standard parsing would turn into a 500 (or store silently): JSON
  nested deeper than :data:`MAX_BODY_DEPTH`, strings holding NUL or a lone UTF-16 surrogate.
  Cheap byte scans decide whether the precise (slower) check is needed at all.
* :func:`stream_into_writer` — an upload goes straight from the socket into an artifact
  store's staging writer (disk), in blocks of at most :data:`UPLOAD_BLOCK` bytes, written in a
  worker thread: about 1x its size on disk and O(1 MiB) of memory, whatever its size.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import anyio
from starlette.requests import Request
from starlette.types import Message, Receive

from chachaml import validate
from chachaml.artifacts.protocol import ArtifactWriter
from chachaml.server.errors import BodyTimeout, BodyTooLarge, ServerBusy

__all__ = [
    "MAX_BODY_DEPTH",
    "UPLOAD_BLOCK",
    "Budget",
    "json_problem",
    "receive_with_timeout",
    "stream_into_writer",
]

#: Nesting accepted in a JSON request body (a param value may nest ``validate.MAX_JSON_DEPTH``
#: levels; the envelope around it adds a few).
MAX_BODY_DEPTH = validate.MAX_JSON_DEPTH + 8
#: Bytes an upload buffers in memory before they are handed to the store's writer.
UPLOAD_BLOCK = 256 * 1024

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# \u escapes of surrogates (paired ones are fine, but need the precise check) and raw UTF-8
# encoded surrogates (which json.loads decodes with "surrogatepass").
_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]|\xed[\xa0-\xbf]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class Budget:
    """A pool of bytes shared by the requests of one app (see the module docstring)."""

    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self.used = 0
        self._waiters: list[anyio.Event] = []

    async def acquire(self, n: int, timeout: float) -> int:
        """Reserve ``n`` bytes (at most the whole pool); returns what to :meth:`release`.
        ``ServerBusy`` if that many bytes do not become free within ``timeout`` seconds."""
        n = min(max(n, 0), self.total)
        with anyio.move_on_after(timeout):
            while self.used and self.used + n > self.total:
                event = anyio.Event()
                self._waiters.append(event)
                try:
                    await event.wait()
                finally:
                    if event in self._waiters:
                        self._waiters.remove(event)
            self.used += n
            return n
        raise ServerBusy("the server is busy with other large request bodies; retry in a moment")

    def release(self, n: int) -> None:
        self.used -= n
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()


async def receive_with_timeout(receive: Receive, timeout: float) -> Message:
    """``receive()``, or ``BodyTimeout`` if nothing arrives within ``timeout`` seconds."""
    with anyio.move_on_after(timeout):
        return await receive()
    raise BodyTimeout(f"the request body sent nothing for {timeout:g} seconds")


def _max_depth(body: bytes) -> int:
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets), initial=0))


def _bad_text(value: Any) -> str | None:
    """A description of the first string (key or value) holding NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = validate.text_problem(item)
            if problem is not None:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def json_problem(body: bytes) -> str | None:
    """Why ``body`` (JSON) must be refused before parsing: too deep, or a string holding NUL or
    a lone surrogate; None when fine (invalid JSON is left to the parser to report)."""
    if body.count(b"[") + body.count(b"{") > MAX_BODY_DEPTH and (_max_depth(body) > MAX_BODY_DEPTH):
        return f"JSON nested deeper than {MAX_BODY_DEPTH} levels is not accepted"
    suspicious = b"\\u" in body or b"\xed" in body  # fast scans first; rarely true
    if suspicious and (b"\\u0000" in body or _SURROGATE.search(body)):
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return None  # the framework reports malformed JSON with its position
        problem = _bad_text(value)
        if problem is not None:
            return f"a string in the body {problem}"
    return None


async def stream_into_writer(request: Request, writer: ArtifactWriter, cap: int) -> bytes:
    """Copy the request body into ``writer`` (in a worker thread, block by block); returns its
    first 512 bytes (for content-type sniffing). ``BodyTooLarge`` over ``cap``;
    ``ClientDisconnect`` if the client goes away (the caller discards the writer)."""
    head = b""
    size = 0
    block = bytearray()
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"artifact is over the upload cap of {cap} bytes")
        if len(head) < 512:
            head += chunk[: 512 - len(head)]
        block += chunk
        if len(block) >= UPLOAD_BLOCK:
            data = bytes(block)
            block.clear()
            await anyio.to_thread.run_sync(writer.write, data)
    if block:
        await anyio.to_thread.run_sync(writer.write, bytes(block))
    return head
