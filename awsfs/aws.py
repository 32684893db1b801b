"""AWS clients and the one call choke point.

Every AWS request awsfs makes goes through :meth:`Aws.call`: tenacity retries throttling, 5xx
and connection errors (botocore's own retries are switched off so attempts never multiply),
errors are translated through :mod:`awsfs.errors`, and one JSON log line is written per call.
"""
from __future__ import annotations

import base64
import concurrent.futures
import contextvars
import errno
import gc
import json
import logging
import threading
import time
from collections import Counter
from typing import Any, Callable, Iterator, Optional

import boto3
from botocore import xform_name
from botocore.config import Config
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity import wait_random_exponential

from .errors import FsError, is_transient, translate

__all__ = ["Aws", "current_path"]

log = logging.getLogger("awsfs.aws")

#: The filesystem path being served, for log lines (set by the filesystem per request).
current_path: contextvars.ContextVar[str] = contextvars.ContextVar("awsfs_path", default="")


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
                              max_pool_connections=64, tcp_keepalive=True)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
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
                if service == "dynamodb":
                    for op in _ITEM_LISTS:
                        c.meta.events.register(f"before-parse.dynamodb.{op}", _parse_items_fast)
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
        client = self.client(service, region)
        method: Callable[..., dict[str, Any]] = getattr(client, xform_name(operation))
        attempts = 0
        start = time.monotonic()

        def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            with self._lock:
                self.calls[f"{service}:{operation}"] += 1
            return method(**params)

        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_delay),
            wait=wait_random_exponential(multiplier=self.backoff, max=2.0),
            reraise=True,
            before_sleep=_log_retry(service, operation, region),
        )
        try:
            response: dict[str, Any] = retrying(attempt)
        except Exception as exc:
            err = translate(exc, f"{service}:{operation}")
            absent = err.errno == errno.ENOENT  # "no such thing" is an answer, not a failure
            if not absent:
                with self._lock:
                    self.failures[f"{service}:{operation}"] += 1
            log.info("aws call", extra=_fields(service, operation, region, start, attempts,
                                               getattr(err, "request_id", ""), "not_found" if absent else "error", err))
            err.attempts = attempts  # type: ignore[attr-defined]
            raise err from exc
        response.setdefault("ResponseMetadata", {})["Attempts"] = attempts
        rid = response.get("ResponseMetadata", {}).get("RequestId", "")
        log.info("aws call", extra=_fields(service, operation, region, start, attempts, rid, "ok", None))
        return response

    def call_many(self, service: str, region: str, operation: str, params: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One :meth:`call` per entry of ``params``, all at once; answers in order (the first
        failure is raised once all have finished)."""
        if len(params) <= 1:
            return [self.call(service, region, operation, **p) for p in params]
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="awsfs-aws")
            pool = self._pool
        futures = [pool.submit(contextvars.copy_context().run, self.call, service, region, operation, **p)
                   for p in params]
        concurrent.futures.wait(futures)
        return [f.result() for f in futures]

    def pages(self, service: str, region: str, operation: str, token_in: str, token_out: str,
              start: Any = None, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield the pages of a paginated call, each one through :meth:`call`.

        ``start`` resumes from a token a previous page returned (for streamed listings).
        """
        token = start
        while True:
            if token:
                params[token_in] = token
            page = self.call(service, region, operation, **params)
            yield page
            token = page.get(token_out)
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


# DynamoDB answers that carry many items. botocore walks its shape model for every attribute value
# (~0.1 s for a 2,000-item Scan page, about half the cost of a listing after moto's own); the JSON
# already is DynamoDB's AttributeValue form, so json.loads (~6 ms) plus decoding binary values gives
# the same response. Anything unusual (an error, a body that is not an object) is left to botocore.
_ITEM_LISTS = ("Scan", "Query", "BatchGetItem")


def _parse_items_fast(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                      **_: Any) -> None:
    if response_dict.get("status_code") != 200:
        return
    try:
        data = json.loads(response_dict["body"], object_hook=_binary)
    except (KeyError, TypeError, ValueError):
        return
    if not isinstance(data, dict):
        return
    customized_response_dict.update(data)
    response_dict["body"] = b"{}"


def _binary(d: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue as botocore parses it: ``B`` and ``BS`` values become bytes."""
    b = d.get("B")
    if isinstance(b, str):
        d["B"] = base64.b64decode(b)
    bs = d.get("BS")
    if isinstance(bs, list) and all(isinstance(x, str) for x in bs):
        d["BS"] = [base64.b64decode(x) for x in bs]
    return d
