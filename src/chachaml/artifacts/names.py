"""THE artifact name validator: every code path that turns a name into a location uses it.

An artifact name is a relative, ``/``-separated path such as ``model`` or ``plots/roc.png``. It is
refused (``InvalidInput``, nothing written) when it is empty, longer than 255 bytes in UTF-8,
absolute (``/x``, ``C:x``), contains a backslash, NUL, a control or invisible formatting
character, an empty, ``.`` or ``..`` segment, or when its percent-decoded or Unicode-compatibility
(NFKC) form would be any of those (``%2e%2e/x``, fullwidth dots). Names must also work as file
names on Windows and macOS: no ``* ? < > | "`` or ``:``, no reserved device name (``CON``,
``nul``, ``aux.txt``, ``COM1``, ``LPT9``...) as a segment, no segment ending in a dot or a space.
Names are returned in Unicode NFC, so the composed and decomposed spellings of ``é`` name the
same artifact. Stores additionally check that the resolved location stays under their root
(:func:`resolve_under`), which also defeats symlinks.

>>> validate("plots/roc.png")
'plots/roc.png'
>>> validate("cafe\u0301.txt") == "caf\u00e9.txt"  # NFD in, NFC out
True
>>> validate("../etc/passwd")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
chachaml.errors.InvalidInput: artifact name '../etc/passwd' has a '..' segment; ...
"""

from __future__ import annotations

import os
import re
import unicodedata

from chachaml.errors import InvalidInput

MAX_NAME_BYTES = 255
MAX_KEY_BYTES = 1024  # a store key is "<run_id>/<name>"
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")
_HINT = "; use a relative name such as 'plots/roc.png'"
# Unicode categories refused anywhere in a name: controls (Cc), invisible formatting such as
# zero-width and bidi overrides (Cf), surrogates (Cs), unassigned (Cn), private use (Co),
# and line/paragraph separators (Zl, Zp).
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp"})
# Characters Windows refuses in file names (macOS Finder shows ':' as '/').
_NOT_PORTABLE = '*?<>|"'
# Windows device names: reserved as a file name with any extension, in any case, in any folder.
_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"0123456789", "\u00b9", "\u00b2", "\u00b3")}
)


def _show(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_form(name: str, shown: str, what: str) -> None:
    """Refuse ``name`` (one spelling of the original, shown as ``shown``) if it is unsafe."""
    for ch in name:
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            raise InvalidInput(
                f"{what} {shown} contains the control or invisible character U+{ord(ch):04X}"
            )
    if "\\" in name:
        raise InvalidInput(f"{what} {shown} contains a backslash; separate folders with '/'")
    if name.startswith("/") or _DRIVE.match(name):
        raise InvalidInput(f"{what} {shown} is an absolute path{_HINT}")
    for segment in name.split("/"):
        if segment == "..":
            raise InvalidInput(f"{what} {shown} has a '..' segment{_HINT}")
        if segment in ("", "."):
            raise InvalidInput(
                f"{what} {shown} has an empty or '.' path segment (no leading, trailing or "
                "doubled '/')"
            )
        if len(segment.encode("utf-8", "replace")) > MAX_NAME_BYTES:
            raise InvalidInput(f"{what} {shown} has a path segment over {MAX_NAME_BYTES} bytes")


def _check_portable(name: str, shown: str, what: str) -> None:
    """Refuse names that cannot be files on Windows or macOS."""
    if ":" in name:
        drive = " (Windows would read it as a drive letter)" if _DRIVE.match(name) else ""
        raise InvalidInput(
            f"{what} {shown} contains ':', which is not allowed in file names on Windows and "
            f"macOS{drive}; use '-' or '_' instead"
        )
    for ch in _NOT_PORTABLE:
        if ch in name:
            raise InvalidInput(
                f"{what} {shown} contains {ch!r}, which is not allowed in file names on Windows "
                '(none of * ? < > | " :)'
            )
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            continue  # refused by _check_form with a message about traversal
        if segment.endswith((".", " ")):
            raise InvalidInput(
                f"{what} {shown} has a path segment ending in a dot or a space ({segment!r}), "
                "which Windows silently strips"
            )
        stem = segment.split(".", 1)[0].rstrip(" ").upper()
        if stem in _DEVICES:
            raise InvalidInput(
                f"{what} {shown} uses the reserved Windows device name {stem!r} as a path "
                f"segment ({segment!r}); such files cannot be created on Windows, with any "
                "extension"
            )


def validate(name: object, what: str = "artifact name", max_bytes: int = MAX_NAME_BYTES) -> str:
    """Return ``name`` in Unicode NFC if it is a safe artifact name, else raise ``InvalidInput``.

    Every caller stores and looks up the returned spelling, so NFC and NFD twins (``é`` as one
    code point or as ``e`` plus a combining accent) are one name. ``max_bytes`` is raised only
    for store keys (``<run_id>/<name>``), never for user names.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"{what} must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidInput(f"{what} must not be empty")
    shown = _show(name)
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidInput(f"{what} {shown} is not valid Unicode text") from exc
    if size > max_bytes:
        raise InvalidInput(f"{what} is {size} bytes in UTF-8; the limit is {max_bytes}")
    nfc = unicodedata.normalize("NFC", name)
    if len(nfc.encode("utf-8")) > max_bytes:
        raise InvalidInput(f"{what} is over {max_bytes} bytes in UTF-8 once normalised (NFC)")
    _check_portable(nfc, shown, what)
    _check_form(name, shown, what)
    if nfc != name:
        _check_form(nfc, shown, what)
    # Spellings that other layers (URL decoding, Unicode normalisation) could turn into a
    # traversal are refused as well, so no later transport can reintroduce one.
    decoded = name
    for _ in range(3):
        if not _PERCENT.search(decoded):
            break
        from urllib.parse import unquote

        decoded = unquote(decoded, errors="replace")
        _check_form(decoded, shown, what)
    normalised = unicodedata.normalize("NFKC", name)
    if normalised != name:
        _check_form(normalised, shown, what)
    return nfc


def resolve_under(root: str, key: str) -> str:
    """The absolute path of ``key`` under ``root``; ``InvalidInput`` if it would leave the root.

    ``key`` is validated first; the check compares real paths, so a symlink inside the root
    that points elsewhere is refused too.
    """
    key = validate(key, "artifact key", MAX_KEY_BYTES)
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, *key.split("/")))
    if os.path.commonpath([base, target]) != base or target == base:
        raise InvalidInput(f"artifact key {_show(key)} resolves outside the artifact root")
    return target
