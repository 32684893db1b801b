"""Fault injection at the I/O boundary: a botocore ``before-send`` hook that answers instead of AWS."""
from __future__ import annotations

import json
import time
from typing import Optional

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kw):
        yield self._body

    def read(self, *a, **kw):
        return self._body


def aws_error(code: str, status: int = 400, message: str = "injected") -> AWSResponse:
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = {"x-amzn-RequestId": "injected-rid", "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse("http://injected", status, headers, _Raw(body))


def aws_error_xml(code: str, status: int = 400, message: str = "injected") -> AWSResponse:
    body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>injected-rid</RequestID></Response>").encode()
    return AWSResponse("http://injected", status, {}, _Raw(body))


class Faults:
    """Fail (or delay) the next calls of one operation of one client."""

    def __init__(self, client, operation: str) -> None:
        self.client = client
        self.operation = operation
        self.plan: list[Optional[AWSResponse]] = []
        self.delay = 0.0
        self.hook = None  # called with no arguments before each request is answered
        self.sent = 0
        client.meta.events.register(f"before-send.*.{operation}", self._hook)

    def _hook(self, request, **kw):
        self.sent += 1
        if self.delay:
            time.sleep(self.delay)
        if self.hook is not None:
            self.hook()
        if self.plan:
            return self.plan.pop(0)
        return None

    def remove(self) -> None:
        self.client.meta.events.unregister(f"before-send.*.{self.operation}", self._hook)
