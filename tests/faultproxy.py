"""A fault-injecting HTTP proxy between botocore clients and the local AWS (the moto server).

Point a client (or a separately started awsfs daemon) at ``proxy.url`` instead of the moto URL;
every request is forwarded unchanged (method, path, query, headers, body) and the answer sent back
(buffered, with a Content-Length). The proxy listens on a real 127.0.0.1 port and serves each
connection in a daemon thread, with HTTP/1.1 keep-alive.

The AWS operation of a request is the part after the dot of ``X-Amz-Target`` (JSON protocol,
DynamoDB) or ``Action=`` in the form body or query string (query protocol: EC2, ELB, STS).
``proxy.seen`` counts operations that reached the proxy (faulted or not).

``proxy.add(operation, fault, times=1, skip=0, **options)`` applies ``fault`` to matching requests
number skip+1 .. skip+times, counted from when the rule was added (``times=None``: forever;
``operation="*"``: any); ``rule.hits`` counts how often it fired. Every rule counts every matching
request; when windows overlap, the rule added first takes the request. Faults:

==============  ===========================================================================
throttle        answer (not forwarded) AWS's throttling error: JSON 400 ThrottlingException;
                EC2 (``Version=2016-11-15``) 503 RequestLimitExceeded; other query 400 Throttling
5xx_json        answer 500 InternalServerError (JSON) / InternalError (XML)
5xx_text        answer 503 ``text/plain`` "Service Unavailable"
drop_before     close the client connection (FIN), not forwarded, no answer
reset_before    TCP RST (SO_LINGER 0, close), not forwarded, no answer
drop_after      forward (the change happens upstream), then close without answering
reset_after     forward, then RST without answering
stall           wait ``seconds`` (default 30) or until ``proxy.release()``, then forward
delay           sleep ``seconds`` (default 1), then forward
truncate        forward, send the body cut to ``keep`` bytes (default half). ``fix_length=True``
                (default) sets Content-Length to the cut length: a complete, shorter message;
                ``fix_length=False`` keeps the original Content-Length and closes after the cut
==============  ===========================================================================

What a botocore client sees (botocore 1.44, retries off; tests/test_faultproxy.py checks it):

* throttle / 5xx_json: ``ClientError`` with the code (DynamoDB: the modeled subclass, e.g.
  ``ThrottlingException``) and the status above.
* 5xx_text: JSON protocol: ``ClientError`` code ``"503"``, message "Service Unavailable";
  query protocol: ``botocore.parsers.ResponseParserError`` ("invalid XML received").
* drop_* / reset_*: ``botocore.exceptions.ConnectionClosedError`` for FIN and RST alike, once
  (no retry by botocore or urllib3); the *_after ones have changed AWS.
* stall past the client's read_timeout: ``ReadTimeoutError``, and the request still reaches AWS
  once released.
* truncate (either fix_length): botocore reads with ``enforce_content_length=False``, so a short
  body is never an HTTP error. DynamoDB: the cut JSON parses to ``{}`` (GetItem without "Item":
  the item looks absent) under the standard retry mode; only the legacy mode checks
  ``x-amz-crc32`` (``ChecksumError``). XML services: ``ResponseParserError``.

Use from conftest (the fixtures belong there; this module has none;
``from tests.faultproxy import FaultProxy`` from the root conftest)::

    @pytest.fixture(scope="session")
    def fault_proxy_server(local_aws):
        proxy = FaultProxy(local_aws.url).start()
        yield proxy
        proxy.stop()

    @pytest.fixture
    def fault_proxy(fault_proxy_server):
        fault_proxy_server.reset()          # no rules, zero counters, stalls released
        yield fault_proxy_server
        fault_proxy_server.reset()

    # then e.g. Aws(endpoint_url=fault_proxy.url) or an awsfs daemon with --endpoint-url
    # fault_proxy.url, and fault_proxy.add("GetItem", "drop_after")
"""
from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

__all__ = ["FAULTS", "FaultProxy", "Rule", "operation_of"]

FAULTS = ("throttle", "5xx_json", "5xx_text", "drop_before", "reset_before", "drop_after",
          "reset_after", "stall", "delay", "truncate")
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade",
        "content-length", "expect"}
_RID = "faultproxy-injected"


class Rule:
    """One ``proxy.add``: which operation, which fault, its window and how often it fired."""

    def __init__(self, operation: str, fault: str, times: Optional[int], skip: int, options: dict) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        self.operation, self.fault, self.options = operation, fault, options
        self.times, self.skip = times, skip
        self.matched = 0   # matching requests seen since the rule was added
        self.hits = 0      # times the fault was applied

    def due(self, operation: str) -> bool:
        """Count a matching request; True if it falls in the rule's window (proxy lock held)."""
        if self.operation not in ("*", operation):
            return False
        self.matched += 1
        n = self.matched - self.skip
        return n >= 1 and (self.times is None or n <= self.times)

    def __repr__(self) -> str:
        return f"Rule({self.operation!r}, {self.fault!r}, times={self.times}, skip={self.skip}, hits={self.hits})"


class FaultProxy:
    def __init__(self, upstream_url: str, port: int = 0) -> None:
        u = urllib.parse.urlsplit(upstream_url)
        self.upstream = (u.hostname or "127.0.0.1", u.port or 80)
        self.port = port
        self.url = ""
        self.seen: Counter[str] = Counter()
        self.connections = 0                      # client connections accepted (keep-alive check)
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._socks: set[socket.socket] = set()

    # -- control -----------------------------------------------------------------------------
    def start(self) -> "FaultProxy":
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="faultproxy",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            socks, self._socks = list(self._socks), set()
        for s in socks:                           # idle keep-alive connections
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def add(self, operation: str, fault: str, times: Optional[int] = 1, skip: int = 0, **options: Any) -> Rule:
        rule = Rule(operation, fault, times, skip, options)
        with self._lock:
            self.rules.append(rule)
        return rule

    def reset(self) -> None:
        with self._lock:
            self.rules.clear()
            self.seen.clear()
            self.connections = 0
        self.release()

    def release(self) -> None:
        """Let every request stalled now go on (later stalls wait again)."""
        with self._lock:
            event, self._release = self._release, threading.Event()
        event.set()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- per request -------------------------------------------------------------------------
    def _rule_for(self, operation: str) -> Optional[Rule]:
        with self._lock:
            self.seen[operation] += 1
            fired = None
            for rule in self.rules:               # every rule counts; the first due one fires
                if rule.due(operation) and fired is None:
                    fired = rule
            if fired is not None:
                fired.hits += 1
            return fired


def operation_of(headers: Any, path: str, body: bytes, method: str = "POST") -> str:
    """The AWS operation name of a request ("?" when it names none)."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        query.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
    if "Action" in query:
        return query["Action"][0]
    return s3_operation(method, url.path, query, headers)


S3_OPS = {  # (method, has a key, query word or header) -> operation, first match wins
    ("GET", False, ""): "ListBuckets", ("GET", True, "list-type"): "ListObjectsV2",
    ("GET", True, "location"): "GetBucketLocation", ("GET", True, "versioning"): "GetBucketVersioning",
    ("GET", True, "tagging"): "GetBucketTagging", ("GET", True, "encryption"): "GetBucketEncryption",
    ("GET", True, "versions"): "ListObjectVersions", ("HEAD", True, ""): "HeadObject", ("GET", True, ""): "GetObject",
    ("PUT", True, "partNumber"): "UploadPart", ("PUT", True, "x-amz-copy-source"): "CopyObject",
    ("PUT", True, ""): "PutObject", ("POST", True, "uploads"): "CreateMultipartUpload",
    ("POST", True, "uploadId"): "CompleteMultipartUpload", ("POST", True, "delete"): "DeleteObjects",
    ("DELETE", True, "uploadId"): "AbortMultipartUpload", ("DELETE", True, ""): "DeleteObject",
}


def s3_operation(method: str, path: str, query: dict, headers: Any) -> str:
    """S3's REST calls (path-style: ``/bucket/key?word``), named as boto3 names them."""
    below_root = path.strip("/") != ""
    for (m, keyed, word), op in S3_OPS.items():
        if m == method and keyed == below_root and (not word or word in query or headers.get(word)):
            return op
    return "?"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass                                      # a client gone mid-answer is not news here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: FaultProxy

    def setup(self) -> None:
        super().setup()
        with self.proxy._lock:
            self.proxy.connections += 1
            self.proxy._socks.add(self.connection)

    def finish(self) -> None:
        with self.proxy._lock:
            self.proxy._socks.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_request(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = operation_of(self.headers, self.path, body, self.command)
        rule = self.proxy._rule_for(operation)
        fault, opts = (rule.fault, rule.options) if rule else ("", {})
        if fault in ("throttle", "5xx_json", "5xx_text"):
            return self._send(*_canned(fault, self.headers, self.path, body, self.command))
        if fault in ("drop_before", "reset_before"):
            return self._abort(rst=fault == "reset_before")
        if fault == "stall":
            self.proxy._release.wait(opts.get("seconds", 30))
        elif fault == "delay":
            time.sleep(opts.get("seconds", 1))
        try:
            status, reason, headers, data = self._forward(body)
        except OSError as e:
            return self._send(502, "Bad Gateway", [("Content-Type", "text/plain")], f"upstream: {e}".encode())
        if fault in ("drop_after", "reset_after"):
            return self._abort(rst=fault == "reset_after")
        if fault == "truncate":
            keep = opts.get("keep", len(data) // 2)
            if not opts.get("fix_length", True):
                self._send(status, reason, headers, data[:keep], length=len(data))
                return self._abort(rst=False)
            data = data[:keep]
        self._send(status, reason, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_request

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)  # one per request: a
        try:                                      # stale upstream keep-alive can never double a write
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in _HOP:
                    conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
            if self.command == "HEAD":  # its Content-Length is the object's, not the (empty) body's
                self.head_length = int(resp.getheader("Content-Length") or 0)
            return resp.status, resp.reason, headers, data
        finally:
            conn.close()

    def _send(self, status: int, reason: Optional[str], headers: list[tuple[str, str]], data: bytes,
              length: Optional[int] = None) -> None:
        self.send_response_only(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        if length is None and self.command == "HEAD":
            length = getattr(self, "head_length", 0)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _abort(self, rst: bool) -> None:
        """Close the client connection: FIN, or RST with ``rst`` (SO_LINGER 0)."""
        self.close_connection = True
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()                    # the makefile holds the fd open otherwise
            self.connection.close()


def _canned(fault: str, headers: Any, path: str, body: bytes,
            method: str = "POST") -> tuple[int, Optional[str], list[tuple[str, str]], bytes]:
    if fault == "5xx_text":
        return 503, None, [("Content-Type", "text/plain")], b"Service Unavailable"
    if headers.get("X-Amz-Target"):
        code, status = ("ThrottlingException", 400) if fault == "throttle" else ("InternalServerError", 500)
        data = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"})
        json_headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", _RID)]
        return status, None, json_headers, data.encode()
    xml = [("Content-Type", "text/xml"), ("x-amzn-RequestId", _RID)]
    if operation_of(headers, path, body, method) in S3_OPS.values():
        code, status = ("SlowDown", 503) if fault == "throttle" else ("InternalError", 500)  # S3's REST XML
        return status, None, xml + [("x-amz-request-id", _RID)], (
            f"<Error><Code>{code}</Code><Message>injected</Message><RequestId>{_RID}</RequestId></Error>").encode()
    if b"Version=2016-11-15" in body or "Version=2016-11-15" in path:   # EC2's API version
        code, status = ("RequestLimitExceeded", 503) if fault == "throttle" else ("InternalError", 500)
        return status, None, xml, (f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message>"
                                   f"</Error></Errors><RequestID>{_RID}</RequestID></Response>").encode()
    kind, code, status = ("Sender", "Throttling", 400) if fault == "throttle" else ("Receiver", "InternalError", 500)
    return status, None, xml, (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>injected"
                               f"</Message></Error><RequestId>{_RID}</RequestId></ErrorResponse>").encode()
