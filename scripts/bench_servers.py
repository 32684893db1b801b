"""Servers for scripts/bench, each run as its own process on 127.0.0.1 only.

``python scripts/bench_servers.py moto``
    A moto server (moto.server.ThreadedMotoServer) with Nagle disabled on its sockets.
``python scripts/bench_servers.py proxy --upstream-port P [--latency-ms 20]``
    A latency-injecting HTTP/1.1 keep-alive proxy in front of ``127.0.0.1:P``. Every request
    waits ``latency-ms`` and is then forwarded; requests are counted per AWS operation
    (``service:Operation``, from ``X-Amz-Target`` for JSON protocols or ``Action=`` for query
    protocols; S3's REST calls by method, path and query word, ``s3:GetObject`` etc., with the
    table of tests/faultproxy.py). ``GET /__bench/counts`` answers the counters (not forwarded, not
    counted); ``POST /__bench/latency?ms=N`` changes the delay. Bodies are buffered whole, both
    ways (read once, written once: linear in their size); a HEAD answer keeps upstream's
    Content-Length (the object's size) and has no body.

Both print ``READY <port>`` on stdout once listening and exit when stdin closes (the parent
died or is done), so no server outlives the benchmark.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter
from typing import Optional
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"  # never any other address
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from faultproxy import S3_OPS, s3_operation  # noqa: E402  (S3's REST calls: one table, shared with the tests)

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length", "expect"}  # the proxy answers 100-continue itself
ONE_WRITE = 64 << 10  # answers up to this size go out in one write (headers and body together)
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def _exit_when_stdin_closes() -> None:
    def watch() -> None:
        try:
            while sys.stdin.buffer.read(1024):
                pass
        except Exception:
            pass
        os._exit(0)
    threading.Thread(target=watch, daemon=True, name="stdin-watch").start()


def _ready(port: int) -> None:
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


# -- moto ---------------------------------------------------------------------------------------

def serve_moto() -> None:
    for k, v in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(k, v)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from moto.server import ThreadedMotoServer

    # werkzeug writes headers and body separately; with Nagle on, keep-alive responses wait for
    # the peer's delayed ACK (~40 ms). Proxy and moto both set TCP_NODELAY.
    MotoRequestHandler.disable_nagle_algorithm = True
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    _ready(port)
    _exit_when_stdin_closes()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(3600)


# -- the proxy ----------------------------------------------------------------------------------

def operation_of(headers, body: bytes, path: str, method: str = "POST") -> str:
    """``service:Operation`` of an AWS request (botocore's names, e.g. ``dynamodb:Scan``,
    ``s3:ListObjectsV2``)."""
    service = ""
    m = _SCOPE.search(headers.get("Authorization", "") or "")
    if m:
        service = m.group(2)
    target = headers.get("X-Amz-Target")
    if target:
        prefix, _, op = target.rpartition(".")
        if not service:
            service = prefix.split("_")[0].lower()
        return f"{service or 'unknown'}:{op}"
    action = None
    query = urlsplit(path).query
    if query:
        action = (parse_qs(query).get("Action") or [None])[0]
    if action is None and body and b"Action=" in body:
        ctype = headers.get("Content-Type", "") or ""
        if "x-www-form-urlencoded" in ctype or body[:7] == b"Action=" or b"&Action=" in body:
            try:
                action = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]
            except Exception:
                action = None
    if action:
        return f"{service or 'unknown'}:{action}"
    if service == "s3":  # REST: the method, the path (path-style /bucket/key) and a query word name it
        url = urlsplit(path)
        op = s3_operation(method, url.path, parse_qs(url.query, keep_blank_values=True), headers)
        if op in S3_OPS.values():
            return f"s3:{op}"
    return f"{service or 'unknown'}:{method} {headers.get('Host', '')}{urlsplit(path).path}"


class Proxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, upstream_port: int, latency: float) -> None:
        super().__init__((HOST, 0), ProxyHandler)
        self.upstream_port = upstream_port
        self.latency = latency
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.started = time.time()

    def count(self, op: str) -> None:
        with self.lock:
            self.counts[op] += 1

    def snapshot(self) -> dict:
        with self.lock:
            return {"counts": dict(self.counts), "total": sum(self.counts.values()),
                    "latency_ms": self.latency * 1000}

    def upstream(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(HOST, self.upstream_port, timeout=300)
            self.local.conn = conn
        if conn.sock is None:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive towards the client
    disable_nagle_algorithm = True     # TCP_NODELAY on the client's connection
    server: Proxy

    def log_message(self, fmt: str, *args) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding", "") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes,
              length: Optional[int] = None) -> None:
        """The answer, with a Content-Length of ``len(data)``, or ``length`` (a HEAD answer's is
        the object's size: its body is empty and none is written)."""
        head = [f"HTTP/1.1 {status} {reason}"]
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP:
                head.append(f"{k}: {v}")
        head.append(f"Content-Length: {len(data) if length is None else length}")
        if self.close_connection:
            head.append("Connection: close")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.command == "HEAD":
            self.wfile.write(raw)
        elif len(data) <= ONE_WRITE:
            self.wfile.write(raw + data)  # one write: headers and body together
        else:
            self.wfile.write(raw)         # a big body is not copied to prepend the headers
            self.wfile.write(data)
        self.wfile.flush()

    def _control(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/__bench/latency":
            ms = float((parse_qs(url.query).get("ms") or ["0"])[0])
            self.server.latency = ms / 1000.0
        body = json.dumps(self.server.snapshot()).encode()
        self._send(200, "OK", [("Content-Type", "application/json")], body)

    def _handle(self) -> None:
        body = self._body()
        if self.path.startswith("/__bench/"):
            self._control()
            return
        self.server.count(operation_of(self.headers, body, self.path, self.command))
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        for attempt in (0, 1):
            conn = self.server.upstream(fresh=attempt > 0)
            reused = conn.sock is not None and attempt == 0
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.BadStatusLine) as e:
                conn.close()
                if attempt == 0 and reused:
                    continue  # the upstream closed an idle keep-alive connection: resend once
                self._send(502, "Bad Gateway", [("Content-Type", "text/plain")], f"proxy: {e}".encode())
                return
            except OSError as e:
                conn.close()
                self._send(502, "Bad Gateway", [("Content-Type", "text/plain")], f"proxy: {e}".encode())
                return
        if resp.will_close:
            conn.close()
        length = None
        if self.command == "HEAD":  # its Content-Length is the object's size, not the empty body's
            length = int(resp.getheader("Content-Length") or 0)
        self._send(resp.status, resp.reason, resp.getheaders(), data, length)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def serve_proxy(upstream_port: int, latency_ms: float) -> None:
    server = Proxy(upstream_port, latency_ms / 1000.0)
    _ready(server.server_address[1])
    _exit_when_stdin_closes()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever(poll_interval=0.5)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("moto")
    px = sub.add_parser("proxy")
    px.add_argument("--upstream-port", type=int, required=True)
    px.add_argument("--latency-ms", type=float, default=20.0)
    a = p.parse_args(argv)
    if a.what == "moto":
        serve_moto()
    else:
        serve_proxy(a.upstream_port, a.latency_ms)


if __name__ == "__main__":
    main()
