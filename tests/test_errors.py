"""The one error table: AWS errors become the errno a user expects, and only transient ones retry."""
import errno

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from awsfs.errors import (
    _TABLE,
    _TRANSIENT_CODES,
    DamagedAnswer,
    RemoteError,
    errno_for_code,
    is_transient,
    may_have_applied,
    translate,
)


def client_error(code, status=400, message="msg"):
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "rid-1"}}, "Op")


@pytest.mark.parametrize("code,status,expected", [
    ("AccessDenied", 403, errno.EACCES),
    ("UnauthorizedOperation", 403, errno.EACCES),
    ("AccessDeniedException", 400, errno.EACCES),
    ("InvalidAccessKeyId", 403, errno.EACCES),
    ("InvalidSignatureException", 400, errno.EACCES),
    ("RequestExpired", 400, errno.EACCES),
    ("ResourceNotFoundException", 400, errno.ENOENT),
    ("InvalidInstanceID.NotFound", 400, errno.ENOENT),
    ("InvalidInstanceID.Malformed", 400, errno.ENOENT),
    ("LoadBalancerNotFound", 400, errno.ENOENT),
    ("ConditionalCheckFailedException", 400, errno.ESTALE),
    ("IncorrectInstanceState", 400, errno.EBUSY),
    ("OperationNotPermitted", 400, errno.EPERM),
    ("ValidationException", 400, errno.EINVAL),
    ("ThrottlingException", 400, errno.EAGAIN),
    ("ProvisionedThroughputExceededException", 400, errno.EAGAIN),
    ("InternalServerError", 500, errno.EIO),
    ("SomethingNew", 503, errno.EIO),
    ("SomethingNew", 404, errno.ENOENT),
])
def test_table(code, status, expected):
    err = translate(client_error(code, status))
    assert err.errno == expected
    assert code in err.reason
    assert err.request_id == "rid-1"


@pytest.mark.parametrize("code,status", [
    ("ParameterNotFound", 400), ("ParameterVersionNotFound", 400), ("NoSuchEntity", 404),
    ("ResourceNotFoundException", 400), ("NoSuchKey", 404), ("NoSuchBucket", 404), ("NoSuchUpload", 404),
    ("NoSuchBucketPolicy", 404), ("InvalidGroup.NotFound", 400), ("TargetGroupNotFoundException", 400),
    ("InvalidParameter.NotFound", 400),  # absence is matched ahead of bad input
])
def test_absence_is_enoent(code, status):
    assert translate(client_error(code, status)).errno == errno.ENOENT


@pytest.mark.parametrize("code,status", [
    ("ParameterAlreadyExists", 400), ("EntityAlreadyExists", 409), ("ResourceAlreadyExistsException", 400),
    ("TableAlreadyExistsException", 400), ("AlreadyExistsException", 400), ("BucketAlreadyExists", 409),
    ("BucketAlreadyOwnedByYou", 409), ("ResourceExistsException", 400), ("InvalidGroup.Duplicate", 400),
    ("InvalidKeyPair.Duplicate", 400), ("InvalidPermission.Duplicate", 400), ("DuplicateLoadBalancerName", 400),
    ("DuplicateListener", 400), ("DuplicateTargetGroupName", 400),
])
def test_create_conflicts_are_eexist(code, status):
    assert translate(client_error(code, status)).errno == errno.EEXIST


@pytest.mark.parametrize("code", [
    "ValidationException", "ValidationError", "MalformedPolicyDocument", "MalformedPolicyDocumentException",
    "MalformedXML", "MalformedJSON", "InvalidParameterValue", "InvalidParameterException",
    "InvalidParameterValueException", "InvalidParameterCombination", "InvalidQueryParameter",
    "InvalidRequestException", "InvalidRequest", "InvalidArgument", "InvalidKeyId",
    "ParameterPatternMismatchException", "UnsupportedParameterType", "HierarchyTypeMismatchException",
    "MissingParameter", "InvalidAMIID.Malformed", "DuplicateTagKeys",
])
def test_validation_errors_are_einval(code):
    assert translate(client_error(code, 400)).errno == errno.EINVAL


@pytest.mark.parametrize("code,status,expected", [
    ("EntityTooLarge", 400, errno.EFBIG),
    ("ItemCollectionSizeLimitExceededException", 400, errno.EFBIG),
    ("KeyTooLongError", 400, errno.ENAMETOOLONG),
    ("UnsupportedOperation", 400, errno.EOPNOTSUPP),
    ("InvalidAction", 400, errno.EOPNOTSUPP),
    ("UnknownOperationException", 400, errno.EOPNOTSUPP),
])
def test_sizes_names_and_unsupported(code, status, expected):
    assert translate(client_error(code, status)).errno == expected


@pytest.mark.parametrize("code,status,expected", [
    # the account or the service has too many
    ("LimitExceeded", 409, errno.EDQUOT),
    ("LimitExceededException", 400, errno.EDQUOT),
    ("ParameterLimitExceeded", 400, errno.EDQUOT),
    ("ServiceQuotaExceededException", 400, errno.EDQUOT),
    ("TooManyBuckets", 400, errno.EDQUOT),
    ("InstanceLimitExceeded", 400, errno.EDQUOT),
    ("AddressLimitExceeded", 400, errno.EDQUOT),
    ("VcpuQuotaExceeded", 400, errno.EDQUOT),
    ("TooManyLoadBalancers", 400, errno.EDQUOT),
    # one thing is full
    ("ParameterMaxVersionLimitExceeded", 400, errno.ENOSPC),
    ("ParameterVersionLabelLimitExceeded", 400, errno.ENOSPC),
    ("PoliciesLimitExceededException", 400, errno.ENOSPC),
    ("HierarchyLevelLimitExceededException", 400, errno.ENOSPC),
    ("TagLimitExceeded", 400, errno.ENOSPC),
    ("TooManyTags", 400, errno.ENOSPC),
    ("TooManyTagsException", 400, errno.ENOSPC),
])
def test_limits_are_edquot_or_enospc(code, status, expected):
    assert translate(client_error(code, status)).errno == expected


def test_throttling_wins_over_limit_patterns():
    assert translate(client_error("RequestLimitExceeded", 503)).errno == errno.EAGAIN
    assert translate(client_error("TooManyRequestsException", 400)).errno == errno.EAGAIN
    assert translate(client_error("TooManyUpdates", 400)).errno == errno.EAGAIN
    # a limit answered with 429 is throttling (API Gateway's LimitExceededException) ...
    assert translate(client_error("LimitExceededException", 429)).errno == errno.EAGAIN
    assert translate(client_error("TooManyBuckets", 429)).errno == errno.EAGAIN
    assert translate(client_error("TagLimitExceeded", 429)).errno == errno.EAGAIN
    # ... but a known code that is not a limit keeps its meaning
    assert translate(client_error("AccessDenied", 429)).errno == errno.EACCES
    assert translate(client_error("ValidationException", 429)).errno == errno.EINVAL


@pytest.mark.parametrize("status,expected", [
    (400, errno.EINVAL), (401, errno.EACCES), (403, errno.EACCES), (404, errno.ENOENT), (405, errno.EINVAL),
    (408, errno.EIO), (409, errno.ESTALE), (412, errno.ESTALE), (413, errno.EFBIG), (416, errno.EINVAL),
    (429, errno.EAGAIN), (500, errno.EIO), (501, errno.EIO), (503, errno.EIO), (0, errno.EIO),
])
def test_unknown_codes_fall_back_on_the_status(status, expected):
    assert translate(client_error("SomethingNew", status)).errno == expected
    assert errno_for_code("", status) == expected  # a bodiless answer (S3 HEAD) has no code


@pytest.mark.parametrize("code,status", [
    ("ValidationException", 400), ("MalformedXML", 400), ("ParameterAlreadyExists", 400),
    ("LimitExceededException", 400), ("ParameterMaxVersionLimitExceeded", 400), ("SomethingNew", 400),
    ("InvalidRequestException", 400), ("EntityTooLarge", 400), ("KeyTooLongError", 400),
])
def test_a_users_mistake_is_never_eio(code, status):
    assert translate(client_error(code, status)).errno != errno.EIO


@pytest.mark.parametrize("code", sorted(_TRANSIENT_CODES))
def test_transient_codes_stay_eio_or_eagain_at_any_status(code):
    # a 400 no longer falls back to EIO: every transient code must be in the table itself
    assert code in _TABLE
    for status in (400, 500, 503):
        assert translate(client_error(code, status)).errno in (errno.EIO, errno.EAGAIN)


def test_overrides_win_over_the_table():
    # S3 answers a failed "If-None-Match: *" with 412 PreconditionFailed: the key exists
    if_none_match = {"PreconditionFailed": errno.EEXIST}
    assert translate(client_error("PreconditionFailed", 412)).errno == errno.ESTALE
    err = translate(client_error("PreconditionFailed", 412), "s3:PutObject", overrides=if_none_match)
    assert isinstance(err, RemoteError)
    assert err.errno == errno.EEXIST
    assert err.code == "PreconditionFailed" and err.request_id == "rid-1"
    assert err.reason.startswith("s3:PutObject: PreconditionFailed")
    # Secrets Manager: a secret marked for deletion
    marked = client_error("InvalidRequestException", 400, "You can't perform this operation on the secret "
                          "because it was marked for deletion.")
    assert translate(marked).errno == errno.EINVAL
    assert translate(marked, overrides={"InvalidRequestException": errno.EBUSY}).errno == errno.EBUSY


def test_overrides_beat_patterns_and_status_and_apply_to_their_codes_only():
    assert errno_for_code("ResourceInUseException", 400) == errno.EBUSY
    assert errno_for_code("ResourceInUseException", 400, overrides={"ResourceInUseException": errno.EEXIST}) \
        == errno.EEXIST
    assert errno_for_code("ParameterNotFound", 400, overrides={"ParameterNotFound": errno.EINVAL}) == errno.EINVAL
    assert errno_for_code("LimitExceededException", 429, overrides={"LimitExceededException": errno.EDQUOT}) \
        == errno.EDQUOT
    assert errno_for_code("412", 412, overrides={"412": errno.EEXIST}) == errno.EEXIST  # bodiless answer
    only = {"PreconditionFailed": errno.EEXIST}
    assert errno_for_code("ConditionalCheckFailedException", 400, overrides=only) == errno.ESTALE
    assert errno_for_code("SomethingNew", 404, overrides=only) == errno.ENOENT
    assert errno_for_code("PreconditionFailed", 412, overrides={}) == errno.ESTALE
    assert errno_for_code("PreconditionFailed", 412, overrides=None) == errno.ESTALE


def test_overrides_are_keyword_only():
    with pytest.raises(TypeError):
        errno_for_code("PreconditionFailed", 412, {"PreconditionFailed": errno.EEXIST})  # type: ignore[misc]
    with pytest.raises(TypeError):
        translate(client_error("PreconditionFailed", 412), "x", {"PreconditionFailed": 1})  # type: ignore[misc]


def test_overrides_do_not_touch_other_failures():
    err = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), overrides={"": errno.EEXIST})
    assert err.errno == errno.EIO


def test_param_validation_is_einval():
    err = translate(ParamValidationError(report="Invalid length for parameter Name, value: 0"), "ssm:PutParameter")
    assert isinstance(err, RemoteError)
    assert err.errno == errno.EINVAL and err.code == "ParamValidationError"
    assert err.reason.startswith("ssm:PutParameter: ")
    assert not is_transient(ParamValidationError(report="x"))


def test_transient_errors_are_never_enoent():
    err = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert err.errno == errno.EIO
    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))


@pytest.mark.parametrize("code,status,transient", [
    ("ThrottlingException", 400, True), ("RequestLimitExceeded", 503, True), ("InternalError", 500, True),
    ("SlowDown", 503, True), ("AccessDenied", 403, False), ("ConditionalCheckFailedException", 400, False),
    ("ResourceNotFoundException", 400, False), ("ValidationException", 400, False),
    ("RequestTimeout", 400, True), ("PriorRequestNotComplete", 400, True), ("SomethingNew", 429, True),
    ("SomethingNew", 500, True), ("SomethingNew", 400, False), ("LimitExceededException", 400, False),
    ("ParameterAlreadyExists", 400, False), ("MalformedXML", 400, False), ("PreconditionFailed", 412, False),
    ("TooManyUpdates", 400, False), ("TooManyBuckets", 400, False),
])
def test_only_transient_errors_retry(code, status, transient):
    assert is_transient(client_error(code, status)) is transient


@pytest.mark.parametrize("exc,applied", [
    (client_error("ThrottlingException", 400), False), (client_error("SlowDown", 503), False),
    (client_error("RequestLimitExceeded", 503), False), (client_error("InternalError", 500), True),
    (client_error("SomethingNew", 503), True), (client_error("ValidationException", 400), False),
    (client_error("ParameterAlreadyExists", 400), False), (client_error("SomethingNew", 429), False),
    (EndpointConnectionError(endpoint_url="http://x"), False), (ConnectTimeoutError(endpoint_url="http://x"), False),
    (ConnectionClosedError(endpoint_url="http://x"), True), (ReadTimeoutError(endpoint_url="http://x"), True),
    (DamagedAnswer("cut short"), True),
])
def test_may_have_applied_is_unchanged(exc, applied):
    assert may_have_applied(exc) is applied
