"""The one exception hierarchy of chachaml.

Every error a caller can see derives from :class:`ChachamlError`. Each class knows the exit code
the CLI uses and the HTTP status a server maps it to, so transports never guess.

>>> try:
...     raise NotFound("run 'abc' does not exist")
... except ChachamlError as exc:
...     print(exc.exit_code, exc.http_status)
4 404
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "ChachamlError",
    "IdempotencyKeyReused",
    "InUse",
    "InvalidFilter",
    "InvalidInput",
    "NoActiveRun",
    "NotFound",
    "ParamConflict",
    "StoreUnavailable",
    "UntrustedArtifact",
]


class ChachamlError(Exception):
    """Root of every chachaml error.

    ``code`` is a stable machine-readable name (used in JSON error bodies), ``exit_code`` the CLI
    exit status and ``http_status`` the HTTP status code.
    """

    code = "error"
    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The JSON error body shape shared by every transport."""
        return {"code": self.code, "message": self.message}


class InvalidInput(ChachamlError, ValueError):
    """An argument has the wrong type, shape or value; nothing was stored."""

    code = "invalid_input"
    exit_code = 2
    http_status = 422


class UntrustedArtifact(InvalidInput):
    """Loading the artifact would unpickle bytes from a store that is not only yours (a remote
    server, PostgreSQL, S3); pass ``trust=True`` or set ``CHACHAML_TRUST_PICKLE=1`` to allow it."""

    code = "untrusted_artifact"


class IdempotencyKeyReused(InvalidInput):
    """An ``Idempotency-Key`` came back with a different request (another body, path or run);
    the server refuses it instead of replaying the first answer."""

    code = "idempotency_key_reused"


class InvalidFilter(InvalidInput):
    """A filter expression could not be parsed; ``position`` is the 0-based offending column."""

    code = "invalid_filter"

    def __init__(self, message: str, *, position: int | None = None, text: str | None = None):
        if position is not None and text is not None:
            pointer = " " * position + "^"
            message = f"{message} (at column {position + 1})\n  {text}\n  {pointer}"
        super().__init__(message)
        self.position = position


class NotFound(ChachamlError, LookupError):
    """The run, model, version or experiment asked for does not exist."""

    code = "not_found"
    exit_code = 4
    http_status = 404


class AlreadyExists(ChachamlError):
    """Something with that identity already exists and may not be replaced."""

    code = "already_exists"
    exit_code = 5
    http_status = 409


class InUse(ChachamlError):
    """Deleting would break something that depends on it (e.g. a run backing a model version)."""

    code = "in_use"
    exit_code = 5
    http_status = 409


class ParamConflict(ChachamlError):
    """A param was re-logged with a different value; params are immutable."""

    code = "param_conflict"
    exit_code = 5
    http_status = 409


class NoActiveRun(ChachamlError):
    """A logging call was made outside a run."""

    code = "no_active_run"
    exit_code = 2
    http_status = 400

    def __init__(self, what: str = "this call") -> None:
        super().__init__(
            f"{what} needs an active run, but none is active. Wrap the code in "
            "`with ml.run(experiment=...):`, call `ml.start_run()` first, or, in a worker "
            "thread, submit `ml.bind(fn)` instead of `fn`."
        )


class StoreUnavailable(ChachamlError):
    """The metadata or artifact store cannot be opened or reached."""

    code = "store_unavailable"
    exit_code = 3
    http_status = 503
