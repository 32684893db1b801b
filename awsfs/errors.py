"""The one table from AWS errors to errno, and what counts as transient.

Exception hierarchy::

    FsError(OSError)          carries an errno and a sentence a person can read
      RemoteError             an AWS call failed; keeps the AWS code and request id
      InputError              the user's bytes were refused before reaching AWS (EINVAL/EFBIG)

    DamagedAnswer(Exception)  an answer that arrived incomplete or unreadable: transient, never
                              "absent" and never "the end of a listing" (raised inside botocore's
                              parsing, translated to EIO once retries are exhausted)

Nothing else crosses the FUSE boundary: ``fuse_ops`` turns any other exception into EIO.
"""
from __future__ import annotations

import errno
from typing import Optional

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

__all__ = ["DamagedAnswer", "FsError", "InputError", "RemoteError", "errno_for_code", "is_transient", "translate"]


class FsError(OSError):
    """An error with an errno and a readable reason."""

    def __init__(self, err: int, reason: str) -> None:
        super().__init__(err, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class InputError(FsError):
    """Bytes written by the user were refused; AWS was not called."""


class RemoteError(FsError):
    """An AWS call failed."""

    def __init__(self, err: int, reason: str, code: str = "", request_id: str = "") -> None:
        super().__init__(err, reason)
        self.code = code
        self.request_id = request_id


class DamagedAnswer(Exception):
    """An answer that is not whole: cut short, failing its checksum, or lacking the fields its
    operation always has."""


# AWS error code -> errno. Matched exactly first, then by suffix (".NotFound", "NotFoundException").
_TABLE: dict[str, int] = {
    # permission
    "AccessDenied": errno.EACCES,
    "AccessDeniedException": errno.EACCES,
    "UnauthorizedOperation": errno.EACCES,
    "AuthFailure": errno.EACCES,
    "UnrecognizedClientException": errno.EACCES,
    "InvalidClientTokenId": errno.EACCES,
    "ExpiredToken": errno.EACCES,
    "ExpiredTokenException": errno.EACCES,
    "OperationNotPermitted": errno.EPERM,
    # absence
    "ResourceNotFoundException": errno.ENOENT,
    "NoSuchKey": errno.ENOENT,
    "NoSuchBucket": errno.ENOENT,
    "LoadBalancerNotFound": errno.ENOENT,
    "AccessPointNotFound": errno.ENOENT,
    "InvalidInstanceID.Malformed": errno.ENOENT,
    # state and conflicts
    "IncorrectInstanceState": errno.EBUSY,
    "IncorrectState": errno.EBUSY,
    "ResourceInUseException": errno.EBUSY,
    "InvalidInstance": errno.EBUSY,
    "ConditionalCheckFailedException": errno.ESTALE,
    "TransactionCanceledException": errno.ESTALE,
    "PreconditionFailed": errno.ESTALE,
    "TransactionConflictException": errno.ESTALE,
    # bad input
    "ValidationException": errno.EINVAL,
    "ValidationError": errno.EINVAL,
    "InvalidParameterValue": errno.EINVAL,
    "InvalidParameterCombination": errno.EINVAL,
    "InvalidParameter": errno.EINVAL,
    "MissingParameter": errno.EINVAL,
    "InvalidInstanceAttributeValue": errno.EINVAL,
    "UnsupportedOperation": errno.EOPNOTSUPP,
    "ItemCollectionSizeLimitExceededException": errno.EFBIG,
    "LimitExceededException": errno.EDQUOT,
    "TagLimitExceeded": errno.EDQUOT,
    # throttling and service trouble (only reached once retries are exhausted)
    "Throttling": errno.EAGAIN,
    "ThrottlingException": errno.EAGAIN,
    "ThrottledException": errno.EAGAIN,
    "RequestLimitExceeded": errno.EAGAIN,
    "ProvisionedThroughputExceededException": errno.EAGAIN,
    "RequestThrottled": errno.EAGAIN,
    "SlowDown": errno.EAGAIN,
    "TooManyRequestsException": errno.EAGAIN,
    "InternalError": errno.EIO,
    "InternalFailure": errno.EIO,
    "InternalServerError": errno.EIO,
    "ServiceUnavailable": errno.EIO,
    "ServiceUnavailableException": errno.EIO,
    "Unavailable": errno.EIO,
}

_THROTTLING = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
    "ProvisionedThroughputExceededException", "RequestThrottled", "SlowDown", "TooManyRequestsException",
}

_TRANSIENT_CODES = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
    "ProvisionedThroughputExceededException", "RequestThrottled", "SlowDown",
    "TooManyRequestsException", "InternalError", "InternalFailure", "InternalServerError",
    "ServiceUnavailable", "ServiceUnavailableException", "Unavailable", "RequestTimeout",
    "RequestTimeoutException", "PriorRequestNotComplete", "TransactionInProgressException",
}

_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


def errno_for_code(code: str, status: int = 0) -> int:
    """The errno for an AWS error code (and HTTP status when the code is unknown)."""
    if code in _TABLE:
        return _TABLE[code]
    if code.endswith(".NotFound") or code.endswith("NotFound") or code.endswith("NotFoundException"):
        return errno.ENOENT
    if code.startswith("Invalid") and code.endswith(".Malformed"):
        return errno.EINVAL
    if status == 403:
        return errno.EACCES
    if status == 404:
        return errno.ENOENT
    if status == 409 or status == 412:
        return errno.ESTALE
    if status == 429:
        return errno.EAGAIN
    return errno.EIO


def _code_status(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return str(err.get("Code", "")), int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return "", 0


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same call may succeed: throttling, 5xx, broken connections."""
    if isinstance(exc, (_CONNECTION_ERRORS, DamagedAnswer)):
        return True
    if isinstance(exc, ResponseParserError):
        return False  # e.g. moto's HTML 500 for an unimplemented action: retrying will not help
    code, status = _code_status(exc)
    return code in _TRANSIENT_CODES or status >= 500 or status == 429


_NOT_SENT = (EndpointConnectionError, ConnectTimeoutError)  # no connection: the request never left


def may_have_applied(exc: BaseException) -> bool:
    """Whether a failed request may nevertheless have been carried out by AWS: the connection went
    after the request was (or may have been) sent, the answer was damaged, or the service failed
    (5xx) — as opposed to a refusal (4xx, throttling) or a request that never left."""
    if isinstance(exc, _NOT_SENT):
        return False
    if isinstance(exc, (ConnectionClosedError, ReadTimeoutError, DamagedAnswer)):
        return True
    code, status = _code_status(exc)
    if code in _THROTTLING:
        return False
    return status >= 500


def translate(exc: BaseException, what: str = "") -> FsError:
    """Turn a botocore exception into an FsError with the right errno, keeping the cause."""
    if isinstance(exc, FsError):
        return exc
    prefix = f"{what}: " if what else ""
    if isinstance(exc, ClientError):
        code, status = _code_status(exc)
        message = exc.response.get("Error", {}).get("Message", "") or code
        rid = exc.response.get("ResponseMetadata", {}).get("RequestId", "")
        err = errno_for_code(code, status)
        out: FsError = RemoteError(err, f"{prefix}{code}: {message}", code, rid)
    elif isinstance(exc, _CONNECTION_ERRORS):
        out = RemoteError(errno.EIO, f"{prefix}cannot reach AWS: {exc}", type(exc).__name__)
    elif isinstance(exc, DamagedAnswer):
        out = RemoteError(errno.EIO, f"{prefix}damaged answer from AWS: {exc}", "DamagedAnswer")
    elif isinstance(exc, ResponseParserError):
        out = RemoteError(errno.EIO, f"{prefix}unreadable answer from AWS (action not supported by this endpoint?)",
                          "ResponseParserError")
    elif isinstance(exc, BotoCoreError):
        out = RemoteError(errno.EIO, f"{prefix}{exc}", type(exc).__name__)
    else:
        out = FsError(errno.EIO, f"{prefix}{type(exc).__name__}: {exc}")
    out.__cause__ = exc
    return out


def request_id(exc: Optional[BaseException]) -> str:
    if isinstance(exc, RemoteError):
        return exc.request_id
    if isinstance(exc, ClientError):
        return str(exc.response.get("ResponseMetadata", {}).get("RequestId", ""))
    return ""
