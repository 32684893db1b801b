"""The one table from AWS errors to errno, and what counts as transient.

Exception hierarchy::

    FsError(OSError)          carries an errno and a sentence a person can read
      RemoteError             an AWS call failed; keeps the AWS code and request id
      InputError              the user's bytes were refused before reaching AWS (EINVAL/EFBIG)

    DamagedAnswer(Exception)  an answer that arrived incomplete or unreadable: transient, never
                              "absent" and never "the end of a listing" (raised inside botocore's
                              parsing, translated to EIO once retries are exhausted)

Nothing else crosses the FUSE boundary: ``fuse_ops`` turns any other exception into EIO.

An AWS error code becomes an errno by the first of these that answers (:func:`errno_for_code`):

1. the caller's ``overrides`` for this one call, where one code means different things by
   context: ``translate(exc, what, overrides={"PreconditionFailed": errno.EEXIST})`` for an
   ``If-None-Match: *`` put; ``{"InvalidRequestException": errno.EBUSY}`` for a Secrets Manager
   call on a secret marked for deletion; ``{"ResourceInUseException": errno.EEXIST}`` for CreateTable;
2. the code itself in :data:`_TABLE`;
3. the table's patterns (keys with ``*``), in the order written: absence, existence, limits,
   bad input (``InvalidParameter.NotFound`` is absent, ``InvalidGroup.Duplicate`` exists);
   a limit (EDQUOT/ENOSPC) answered with HTTP 429 is throttling, EAGAIN (API Gateway's
   LimitExceededException);
4. the HTTP status: 400 and other 4xx EINVAL (the request was refused: the client's fault),
   401/403 EACCES, 404 ENOENT, 409/412 ESTALE, 413 EFBIG, 408, 5xx and none EIO.

A user's mistake (validation, malformed, already exists, a limit) never comes back as EIO.
Limits: EDQUOT when the account or service has too many (buckets, parameters, secrets, instances:
``*LimitExceeded*``, ``*QuotaExceeded*``, ``TooMany*``); ENOSPC when one thing is full (versions
of one parameter, labels of one version, tags or policies of one resource, levels of one path).
Throttling (EAGAIN) and transient codes are in the table ahead of the patterns, and
:func:`is_transient` / :func:`may_have_applied` do not look at the table at all.
"""
from __future__ import annotations

import errno
import fnmatch
import re
from typing import Mapping, Optional

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

__all__ = ["DamagedAnswer", "FsError", "InputError", "Overrides", "RemoteError", "errno_for_code", "is_transient",
           "translate"]

#: AWS error code -> errno for one call, winning over the table (see the module docstring)
Overrides = Mapping[str, int]


class FsError(OSError):
    """An error with an errno and a readable reason."""

    def __init__(self, err: int, reason: str) -> None:
        super().__init__(err, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class NotNow(FsError):
    """No AWS call may be made at this moment (attributes sent with a listing are answered from
    the cache alone). Not a failure of AWS: nothing about the entry is learned or cached. Its errno
    is EWOULDBLOCK, which on Linux is also throttling's EAGAIN, so tell them apart by this type."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EWOULDBLOCK, reason)


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


# AWS error code -> errno. Exact codes first; then the keys with "*" (fnmatch patterns, case
# sensitive) in the order written.
_TABLE: dict[str, int] = {
    # permission
    "AccessDenied": errno.EACCES,
    "AccessDeniedException": errno.EACCES,
    "UnauthorizedOperation": errno.EACCES,
    "AuthFailure": errno.EACCES,
    "UnrecognizedClientException": errno.EACCES,
    "InvalidClientTokenId": errno.EACCES,
    "InvalidAccessKeyId": errno.EACCES,
    "SignatureDoesNotMatch": errno.EACCES,
    "InvalidSignatureException": errno.EACCES,
    "IncompleteSignature": errno.EACCES,
    "MissingAuthenticationToken": errno.EACCES,
    "RequestExpired": errno.EACCES,
    "ExpiredToken": errno.EACCES,
    "ExpiredTokenException": errno.EACCES,
    "OperationNotPermitted": errno.EPERM,
    # throttling and service trouble (only reached once retries are exhausted)
    "Throttling": errno.EAGAIN,
    "ThrottlingException": errno.EAGAIN,
    "ThrottledException": errno.EAGAIN,
    "RequestLimitExceeded": errno.EAGAIN,
    "ProvisionedThroughputExceededException": errno.EAGAIN,
    "RequestThrottled": errno.EAGAIN,
    "SlowDown": errno.EAGAIN,
    "TooManyRequestsException": errno.EAGAIN,
    "TooManyUpdates": errno.EAGAIN,
    "InternalError": errno.EIO,
    "InternalFailure": errno.EIO,
    "InternalServerError": errno.EIO,
    "ServiceUnavailable": errno.EIO,
    "ServiceUnavailableException": errno.EIO,
    "Unavailable": errno.EIO,
    "RequestTimeout": errno.EIO,
    "RequestTimeoutException": errno.EIO,
    "PriorRequestNotComplete": errno.EIO,
    "TransactionInProgressException": errno.EIO,
    # absence
    "ResourceNotFoundException": errno.ENOENT,
    "NoSuchKey": errno.ENOENT,
    "NoSuchBucket": errno.ENOENT,
    "NoSuchEntity": errno.ENOENT,
    "ParameterNotFound": errno.ENOENT,
    "ParameterVersionNotFound": errno.ENOENT,
    "LoadBalancerNotFound": errno.ENOENT,
    "AccessPointNotFound": errno.ENOENT,
    "InvalidInstanceID.Malformed": errno.ENOENT,  # an id that cannot exist names nothing
    "*NotFound": errno.ENOENT,  # also "*.NotFound"
    "*NotFoundException": errno.ENOENT,
    "NoSuch*": errno.ENOENT,
    # existence: a create that conflicts
    "ResourceExistsException": errno.EEXIST,
    "BucketAlreadyExists": errno.EEXIST,
    "BucketAlreadyOwnedByYou": errno.EEXIST,
    "*AlreadyExists*": errno.EEXIST,
    "*.Duplicate": errno.EEXIST,
    "DuplicateTagKeys": errno.EINVAL,  # the same key twice in one request
    "Duplicate*": errno.EEXIST,
    # state and conflicts
    "IncorrectInstanceState": errno.EBUSY,
    "IncorrectState": errno.EBUSY,
    "ResourceInUseException": errno.EBUSY,
    "InvalidInstance": errno.EBUSY,
    "ConditionalCheckFailedException": errno.ESTALE,
    "TransactionCanceledException": errno.ESTALE,
    "PreconditionFailed": errno.ESTALE,  # If-Match; an If-None-Match put overrides it to EEXIST
    "TransactionConflictException": errno.ESTALE,
    # limits: EDQUOT for "the account has too many", ENOSPC for "this one thing is full"
    "ItemCollectionSizeLimitExceededException": errno.EFBIG,
    "EntityTooLarge": errno.EFBIG,
    "KeyTooLongError": errno.ENAMETOOLONG,
    "ParameterMaxVersionLimitExceeded": errno.ENOSPC,
    "ParameterVersionLabelLimitExceeded": errno.ENOSPC,
    "PoliciesLimitExceededException": errno.ENOSPC,
    "HierarchyLevelLimitExceededException": errno.ENOSPC,
    "TagLimitExceeded": errno.ENOSPC,
    "TooManyTags": errno.ENOSPC,
    "TooManyTagsException": errno.ENOSPC,
    "LimitExceeded": errno.EDQUOT,
    "LimitExceededException": errno.EDQUOT,
    "ParameterLimitExceeded": errno.EDQUOT,
    "ServiceQuotaExceededException": errno.EDQUOT,
    "TooManyBuckets": errno.EDQUOT,
    "*LimitExceeded*": errno.EDQUOT,
    "*QuotaExceeded*": errno.EDQUOT,
    "TooMany*": errno.EDQUOT,
    # bad input
    "ValidationException": errno.EINVAL,
    "ValidationError": errno.EINVAL,
    "InvalidParameterValue": errno.EINVAL,
    "InvalidParameterCombination": errno.EINVAL,
    "InvalidParameter": errno.EINVAL,
    "InvalidRequestException": errno.EINVAL,  # Secrets Manager; by context EBUSY (marked for deletion)
    "InvalidRequest": errno.EINVAL,
    "InvalidArgument": errno.EINVAL,
    "InvalidKeyId": errno.EINVAL,
    "ParameterPatternMismatchException": errno.EINVAL,
    "UnsupportedParameterType": errno.EINVAL,
    "HierarchyTypeMismatchException": errno.EINVAL,
    "MissingParameter": errno.EINVAL,
    "InvalidInstanceAttributeValue": errno.EINVAL,
    "Malformed*": errno.EINVAL,
    "Invalid*.Malformed": errno.EINVAL,
    "Invalid*Parameter*": errno.EINVAL,  # also "InvalidParameter*"
    "UnsupportedOperation": errno.EOPNOTSUPP,
    "InvalidAction": errno.EOPNOTSUPP,
    "UnknownOperationException": errno.EOPNOTSUPP,
}

_PATTERNS = [(re.compile(fnmatch.translate(k)), v) for k, v in _TABLE.items() if "*" in k]

_BY_STATUS = {400: errno.EINVAL, 401: errno.EACCES, 403: errno.EACCES, 404: errno.ENOENT, 408: errno.EIO,
              409: errno.ESTALE, 412: errno.ESTALE, 413: errno.EFBIG, 429: errno.EAGAIN}

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


def errno_for_code(code: str, status: int = 0, *, overrides: Optional[Overrides] = None) -> int:
    """The errno for an AWS error code and HTTP status, in the order the module docstring gives."""
    if overrides and code in overrides:
        return overrides[code]
    err = _TABLE.get(code) if "*" not in code else None
    if err is None and code:
        err = next((e for pattern, e in _PATTERNS if pattern.match(code)), None)
    if err is not None:
        return errno.EAGAIN if status == 429 and err in (errno.EDQUOT, errno.ENOSPC) else err
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 400 <= status < 500:
        return errno.EINVAL
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


def translate(exc: BaseException, what: str = "", *, overrides: Optional[Overrides] = None) -> FsError:
    """Turn a botocore exception into an FsError with the right errno, keeping the cause;
    ``overrides`` maps AWS codes to errnos for this one call, ahead of the table."""
    if isinstance(exc, FsError):
        return exc
    prefix = f"{what}: " if what else ""
    if isinstance(exc, ClientError):
        code, status = _code_status(exc)
        message = exc.response.get("Error", {}).get("Message", "") or code
        rid = exc.response.get("ResponseMetadata", {}).get("RequestId", "")
        err = errno_for_code(code, status, overrides=overrides)
        out: FsError = RemoteError(err, f"{prefix}{code}: {message}", code, rid)
    elif isinstance(exc, _CONNECTION_ERRORS):
        out = RemoteError(errno.EIO, f"{prefix}cannot reach AWS: {exc}", type(exc).__name__)
    elif isinstance(exc, DamagedAnswer):
        out = RemoteError(errno.EIO, f"{prefix}damaged answer from AWS: {exc}", "DamagedAnswer")
    elif isinstance(exc, ResponseParserError):
        out = RemoteError(errno.EIO, f"{prefix}unreadable answer from AWS (action not supported by this endpoint?)",
                          "ResponseParserError")
    elif isinstance(exc, ParamValidationError):  # refused by botocore before sending
        out = RemoteError(errno.EINVAL, f"{prefix}{exc}", "ParamValidationError")
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
