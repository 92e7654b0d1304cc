"""The file-like half every artifact writer shares: hash and count bytes while staging them.

Encoders (pickle, numpy, pyarrow, joblib) write into a writer as into a file; subclasses set
``_file`` (where the bytes are staged) and add ``commit``/``discard``.
"""

from __future__ import annotations

import hashlib
from typing import IO


class HashingWriter:
    """Write-only, non-seekable stream that computes sha256 and size of what passes through."""

    _file: IO[bytes] | None

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._file is None:
            raise ValueError("write to a closed artifact writer")
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._size += view.nbytes
        self._file.write(view)
        return view.nbytes

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._file is None
