"""The one transaction layer: every AWS mutation awsfs makes goes through :meth:`Transactions.run`.

A writable node turns a finished write into a list of :class:`Mutation`. The layer refuses them
on a read-only mount, runs them in order through the AWS choke point (which owns retries),
invalidates every cache entry they affect — in a ``finally``, so a failure invalidates too —
and writes one audit log line per mutation. The first failure stops the list and is raised.
"""
from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from .cache import Cache, Key
from .errors import FsError, RemoteError

if TYPE_CHECKING:  # pragma: no cover
    from .aws import Aws

__all__ = ["Mutation", "Transactions"]

log = logging.getLogger("awsfs.mutation")


@dataclass
class Mutation:
    service: str
    region: str
    operation: str
    params: dict[str, Any]
    invalidates: list[Key] = field(default_factory=list)
    what: str = ""                                  # for people: "stop i-0abc", "put users/alice"
    #: optional check run (through the choke point) right before the call; raises to refuse
    precheck: Optional[Callable[[], None]] = None
    #: optional write-through: on success, bring cached listings up to date instead of dropping
    #: them (``invalidates`` is still applied when the call fails or this raises)
    update: Optional[Callable[[dict[str, Any]], None]] = None
    #: what a conflict (ESTALE: a condition failed) means here, in words
    conflict: str = ""
    #: the errno a failed condition comes back as: ESTALE (changed since read), EEXIST (a create
    #: that found the name taken)
    conflict_errno: int = errno.ESTALE
    #: sending it twice does what sending it once does (tags, instance state verbs, DeleteItem):
    #: it is retried after any transient failure, even one after AWS may have received it
    repeatable: bool = False
    #: for a change that is not repeatable, after a failure that leaves its outcome unknown: asks
    #: AWS whether it was applied (True), was not (False: it is sent again) or cannot tell (None)
    verify: Optional[Callable[[], Optional[bool]]] = None
    #: AWS error code -> errno for this call, where a code means something else here (see errors.translate)
    overrides: Optional[dict[str, int]] = None
    #: undoes what the precheck prepared when the mutation fails or is refused (aborts a multipart
    #: upload: nothing of a failed save stays in AWS)
    abort: Optional[Callable[[], None]] = None
    #: done ahead of the requests that will need it (``rm -r``'s batch): a failure is logged, not
    #: raised, and the list goes on (each request then makes its own change)
    ahead: bool = False


VERIFY_ROUNDS = 3  # a change found not applied after an unknown outcome is sent again this often


def unknown_outcome(m: Mutation, e: FsError) -> FsError:
    return FsError(errno.EIO, f"{m.what or m.operation}: the outcome is unknown: AWS may or may not have made "
                   f"this change ({e.reason}); look before trying again")


class Transactions:
    def __init__(self, aws: "Aws", cache: Cache, read_only: bool = False) -> None:
        self.aws = aws
        self.cache = cache
        self.read_only = read_only

    def run(self, path: str, mutations: list[Mutation]) -> list[dict[str, Any]]:
        if self.read_only and mutations:
            raise FsError(errno.EROFS, f"{path}: read-only mount")
        results = []
        for m in mutations:
            start = time.monotonic()
            outcome, err, resp = "ok", None, {}
            try:
                if m.precheck is not None:
                    m.precheck()
                resp = self._send(m)
                results.append(resp)
            except BaseException as e:
                outcome, err = "error", e if isinstance(e, FsError) else FsError(errno.EIO, str(e))
                self._abort(m)
                if not isinstance(e, FsError):
                    raise
                if m.ahead:
                    continue  # (logged below)
                if e.errno in (errno.ESTALE, errno.EEXIST) and m.conflict and isinstance(e, RemoteError):
                    err = FsError(m.conflict_errno, f"{m.conflict} ({e.reason})")
                    raise err from e
                raise
            finally:
                self._refresh(m, resp if outcome == "ok" and resp else None)
                meta = resp.get("ResponseMetadata", {}) if resp else {}
                log.info("mutation", extra={
                    "event": "mutation", "path": path, "mutation": m.what or m.operation,
                    "service": m.service, "operation": m.operation, "region": m.region, "outcome": outcome,
                    "attempts": meta.get("Attempts", getattr(err, "attempts", 0)),
                    "request_id": meta.get("RequestId", getattr(err, "request_id", "")),
                    "duration_ms": round((time.monotonic() - start) * 1000, 1),
                    **({"error": err.reason} if err else {})})
        return results

    @staticmethod
    def _abort(m: Mutation) -> None:
        if m.abort is None:
            return
        try:
            m.abort()
        except Exception:  # the failure the writer is told about is the save's, not the cleanup's
            log.exception("abort after a failed mutation failed", extra={"event": "mutation",
                                                                          "mutation": m.what or m.operation})

    def _send(self, m: Mutation) -> dict[str, Any]:
        """The call, sent once more only where that is safe; an unknown outcome is looked up."""
        last: Optional[FsError] = None
        for _ in range(VERIFY_ROUNDS):
            try:
                return self.aws.send(m.service, m.region, m.operation, m.params, repeatable=m.repeatable,
                                     overrides=m.overrides)
            except FsError as e:
                if not getattr(e, "unknown", False):
                    raise
                last = e
                if m.verify is None:
                    raise unknown_outcome(m, e) from e
                try:
                    applied = m.verify()
                except FsError as v:
                    raise unknown_outcome(m, e) from v
                log.info("mutation outcome checked", extra={
                    "event": "mutation", "mutation": m.what or m.operation, "operation": m.operation,
                    "applied": applied, "error": e.reason})
                if applied is None:
                    raise unknown_outcome(m, e) from e
                if applied:
                    return {"ResponseMetadata": {"Attempts": getattr(e, "attempts", 0), "Verified": True}}
        assert last is not None
        raise unknown_outcome(m, last) from last

    def _refresh(self, m: Mutation, resp: Optional[dict[str, Any]]) -> None:
        """Make the cache show the new state: write through on success, else drop what is affected."""
        if resp is not None and m.update is not None:
            try:
                m.update(resp)
                self.cache.touch(*m.invalidates)
                return
            except Exception:
                log.exception("cache update failed; invalidating", extra={"event": "mutation"})
        self.cache.invalidate(*m.invalidates)
