"""AWS clients and the one call choke point.

Every AWS request awsfs makes goes through :meth:`Aws.call`: tenacity retries throttling, 5xx
and connection errors (botocore's own retries are switched off so attempts never multiply),
errors are translated through :mod:`awsfs.errors`, and one JSON log line is written per call.
"""
from __future__ import annotations

import binascii
import concurrent.futures
import contextlib
import contextvars
import errno
import gc
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import FlexibleChecksumError, IncompleteReadError, ResponseStreamingError
from botocore.parsers import ResponseParserError
from botocore.response import StreamingBody
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity import wait_random_exponential

from .errors import DamagedAnswer, FsError, NotNow, Overrides, is_transient, may_have_applied, translate

__all__ = ["Aws", "Paging", "check_answer", "current_path", "offline"]

log = logging.getLogger("awsfs.aws")

#: The filesystem path being served, for log lines (set by the filesystem per request).
current_path: contextvars.ContextVar[str] = contextvars.ContextVar("awsfs_path", default="")
_offline: contextvars.ContextVar[bool] = contextvars.ContextVar("awsfs_offline", default=False)


@contextlib.contextmanager
def offline():
    """Inside, no AWS call is made: each fails at once with EWOULDBLOCK (nothing is cached)."""
    token = _offline.set(True)
    try:
        yield
    finally:
        _offline.reset(token)


class Aws:
    """Shared boto3 clients plus the choke point. Thread-safe: one instance per mount."""

    def __init__(self, profile: Optional[str] = None, endpoint_url: Optional[str] = None,
                 max_attempts: int = 5, max_delay: float = 20.0, backoff: float = 0.2,
                 connect_timeout: float = 5.0, read_timeout: float = 30.0) -> None:
        self.session = boto3.session.Session(profile_name=profile)
        self.endpoint_url = endpoint_url
        self.max_attempts = max_attempts
        self.max_delay = max_delay
        self.backoff = backoff
        self._config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                              connect_timeout=connect_timeout, read_timeout=read_timeout,
                              max_pool_connections=64, tcp_keepalive=True,
                              # a local endpoint (moto) has no per-bucket host names
                              s3={"addressing_style": "path" if endpoint_url else "auto"})
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._paging: dict[tuple[str, str], Paging] = {}
        self.calls: Counter[str] = Counter()      # "service:Operation" -> requests sent (attempts)
        self.failures: Counter[str] = Counter()

    # -- clients -----------------------------------------------------------------------------
    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                c = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                        config=self._config)
                hooks = _service_hooks(service)
                c.meta.events.register("before-parse", hooks.pop("before-parse", check_answer))
                for event, hook in hooks.items():
                    c.meta.events.register(event, hook)
                self._clients[key] = c
                # a client is a big object graph that lives as long as the mount: keep it (and
                # everything else alive now) out of the cyclic collector's full passes, which
                # otherwise walk it again and again while a listing's attributes and contents
                # are cached (a first lookup: 113 -> 39 us; objects still go when unreferenced)
                gc.freeze()
            return c

    def credentials_present(self) -> bool:
        return self.session.get_credentials() is not None

    # -- the choke point -----------------------------------------------------------------------
    def call(self, service: str, region: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (PascalCase, e.g. "DescribeInstances") and return the response."""
        return self.send(service, region, operation, params)

    def send(self, service: str, region: str, operation: str, params: dict[str, Any],
             repeatable: bool = True, overrides: Optional[Overrides] = None) -> dict[str, Any]:
        """:meth:`call`, for a change that is not ``repeatable`` (sending it twice differs from once,
        or its condition fails the second time): it is sent again only after failures that show it
        did not reach AWS (throttling, no connection). A failure after AWS may have received it
        (a connection lost before the answer, a damaged answer, a 5xx) is raised at once as
        :class:`~awsfs.errors.RemoteError` with ``unknown`` set: the caller finds out what happened.
        ``overrides`` maps an AWS error code to the errno it means for this call (one code can
        mean different things: S3's PreconditionFailed is EEXIST for a create)."""
        if _offline.get():
            raise NotNow(f"{service}:{operation}: not asked now")
        client = self.client(service, region)
        method: Callable[..., dict[str, Any]] = getattr(client, xform_name(operation))
        attempts = 0
        maybe_applied = False  # an attempt failed after AWS may have carried it out
        start = time.monotonic()

        def attempt() -> dict[str, Any]:
            nonlocal attempts, maybe_applied
            attempts += 1
            with self._lock:
                self.calls[f"{service}:{operation}"] += 1
            _answer.status = 0
            try:
                try:
                    response = method(**params)
                except ResponseParserError as e:
                    # a 2xx or 5xx body that does not parse was damaged on the way (or the service is
                    # in trouble): transient. A 4xx one (moto's HTML for an action it lacks) is not.
                    if _answer.status < 300 or _answer.status >= 500:
                        raise DamagedAnswer(f"HTTP {_answer.status or '?'} with a body that does not parse") from e
                    raise
                body = response.get("Body")
                if isinstance(body, StreamingBody):
                    # read here, so a body cut short is a damaged answer, retried like any other
                    # (callers ask for bounded ranges: the bytes fit in memory)
                    try:
                        data = body.read()
                    except (IncompleteReadError, ResponseStreamingError, FlexibleChecksumError) as e:
                        raise DamagedAnswer(f"the body was cut short ({e})") from e
                    if "ContentLength" in response and len(data) != response["ContentLength"]:
                        raise DamagedAnswer(f"a body of {len(data)} bytes where {response['ContentLength']} were sent")
                    response["Body"] = data
                missing = [k for k in _required().get((service, operation), ()) if k not in response]
                if missing:
                    raise DamagedAnswer(f"the answer lacks {', '.join(missing)}")
                return response
            except Exception as e:
                maybe_applied = maybe_applied or may_have_applied(e)
                raise

        retrying = Retrying(
            retry=retry_if_exception(is_transient if repeatable else lambda e: is_transient(e) and not may_have_applied(e)),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_delay),
            wait=wait_random_exponential(multiplier=self.backoff, max=2.0),
            reraise=True,
            before_sleep=_log_retry(service, operation, region),
        )
        try:
            response: dict[str, Any] = retrying(attempt)
        except Exception as exc:
            err = translate(exc, f"{service}:{operation}", overrides=overrides)
            absent = err.errno == errno.ENOENT  # "no such thing" is an answer, not a failure
            if not absent:
                with self._lock:
                    self.failures[f"{service}:{operation}"] += 1
            log.info("aws call", extra=_fields(service, operation, region, start, attempts,
                                               getattr(err, "request_id", ""), "not_found" if absent else "error", err))
            err.attempts = attempts  # type: ignore[attr-defined]
            err.unknown = maybe_applied  # type: ignore[attr-defined]
            raise err from exc
        response.setdefault("ResponseMetadata", {})["Attempts"] = attempts
        rid = response.get("ResponseMetadata", {}).get("RequestId", "")
        log.info("aws call", extra=_fields(service, operation, region, start, attempts, rid, "ok", None))
        return response

    def call_many(self, service: str, region: str, operation: str, params: list[dict[str, Any]],
                  timeout: Optional[float] = None) -> list[dict[str, Any]]:
        """One :meth:`call` per entry of ``params``, all at once; answers in order (the first
        failure is raised once all have finished). Past ``timeout`` seconds, ETIMEDOUT is raised
        (the calls still running finish in the background; their answers are dropped)."""
        if len(params) <= 1 and timeout is None:
            return [self.call(service, region, operation, **p) for p in params]
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="awsfs-aws")
            pool = self._pool
        futures = [pool.submit(contextvars.copy_context().run, self.call, service, region, operation, **p)
                   for p in params]
        _, pending = concurrent.futures.wait(futures, timeout=timeout)
        if pending:
            raise FsError(errno.ETIMEDOUT, f"{service}:{operation}: no answer within {timeout} s")
        return [f.result() for f in futures]

    def paging(self, service: str, operation: str) -> "Paging":
        """How ``operation`` pages, from botocore's own paginator definition."""
        key = (service, operation)
        got = self._paging.get(key)
        if got is None:
            cfg = self.session._session.get_paginator_model(service).get_paginator(operation)
            result = cfg["result_key"]
            got = self._paging[key] = Paging(cfg["input_token"], cfg["output_token"],
                                            result[0] if isinstance(result, list) else result,
                                            cfg.get("more_results"))
        return got

    def page(self, service: str, region: str, operation: str, token: Any,
             params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """One page of a paginated call through :meth:`call`, from ``token`` (None: the first):
        ``(page, next token)``, the next token None after the last page."""
        paging = self.paging(service, operation)
        if isinstance(paging.token_in, list):  # a token of several fields (S3's KeyMarker, VersionIdMarker)
            asked = {**params, **{k: v for k, v in zip(paging.token_in, token or ()) if v is not None}}
            page = self.call(service, region, operation, **asked)
            following = tuple(page.get(k) for k in paging.token_out)
            following = following if any(v is not None for v in following) else None
        else:
            page = self.call(service, region, operation, **({**params, paging.token_in: token} if token else params))
            following = page.get(paging.token_out)
        if paging.more is not None and not page.get(paging.more):
            following = None
        elif paging.more is not None and not following:  # "more to come" with no way to ask for it
            raise FsError(errno.EIO, f"{service}:{operation}: a page says more follow but gives no "
                          f"{paging.token_out}: the listing is not whole")
        return page, following or None

    def pages(self, service: str, region: str, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a paginated call, each one through :meth:`call`."""
        token = None
        while True:
            page, token = self.page(service, region, operation, token, params)
            yield page
            if not token:
                return

    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())


def _fields(service: str, operation: str, region: str, start: float, attempts: int, rid: str,
            outcome: str, err: Optional[FsError]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "event": "aws_call", "service": service, "operation": operation, "region": region,
        "path": current_path.get(), "attempts": attempts, "request_id": rid, "outcome": outcome,
        "duration_ms": round((time.monotonic() - start) * 1000, 1),
    }
    if err is not None:
        fields["error"] = err.reason
        fields["errno"] = err.errno
    return fields


def _log_retry(service: str, operation: str, region: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("aws retry", extra={"event": "aws_retry", "service": service, "operation": operation,
                                        "region": region, "path": current_path.get(),
                                        "attempt": state.attempt_number, "error": str(exc)})
    return before_sleep


@dataclass(frozen=True)
class Paging:
    token_in: Any   #: a field name, or a list of them (a token of several fields)
    token_out: Any
    result_key: str            #: where a page's entries are
    more: Optional[str] = None  #: the field saying more pages follow (when the token does not)


def _service_hooks(service: str) -> dict[str, Callable[..., None]]:
    from .services import client_hooks  # the services declare their clients' hooks
    return dict(client_hooks(service))


_REQUIRED_CACHE: dict[tuple[str, str], tuple[str, ...]] = {}


def _required() -> dict[tuple[str, str], tuple[str, ...]]:
    if not _REQUIRED_CACHE:
        from .services import required_fields
        _REQUIRED_CACHE.update(_REQUIRED)
        _REQUIRED_CACHE.update(required_fields())
    return _REQUIRED_CACHE


class _Answer(threading.local):
    status = 0  # the HTTP status of this thread's last answer (see Aws.call)


_answer = _Answer()

#: fields an operation's successful answer always has: without them the answer was damaged
#: (the services declare their own: see each module's ``REQUIRED``)
_REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("ec2", "DescribeRegions"): ("Regions",),
    ("sts", "GetCallerIdentity"): ("Account",),
}


def check_answer(response_dict: dict[str, Any], operation_model: Any = None, **_: Any) -> None:
    """Every answer: a successful one must be whole (its Content-Length, DynamoDB's CRC32)."""
    status = response_dict.get("status_code") or 0
    _answer.status = status
    if not 200 <= status < 300 or operation_model is not None and operation_model.http.get("method") == "HEAD":
        return  # a HEAD answer's Content-Length is the object's: it has no body
    body = response_dict.get("body") or b""
    if not isinstance(body, (bytes, bytearray)):
        return  # a streamed body (GetObject) is checked as it is read (see Aws.send)
    headers = response_dict.get("headers") or {}
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) != len(body):
        raise DamagedAnswer(f"{len(body)} bytes of an answer of {length}")
    crc = headers.get("x-amz-crc32")
    if crc is not None and crc.isdigit() and binascii.crc32(body) & 0xFFFFFFFF != int(crc):
        raise DamagedAnswer("the answer's CRC32 does not match its body")


