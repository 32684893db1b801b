"""The one error table: AWS errors become the errno a user expects, and only transient ones retry."""
import errno

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from awsfs.errors import is_transient, translate


def client_error(code, status=400, message="msg"):
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "rid-1"}}, "Op")


@pytest.mark.parametrize("code,status,expected", [
    ("AccessDenied", 403, errno.EACCES),
    ("UnauthorizedOperation", 403, errno.EACCES),
    ("AccessDeniedException", 400, errno.EACCES),
    ("ResourceNotFoundException", 400, errno.ENOENT),
    ("InvalidInstanceID.NotFound", 400, errno.ENOENT),
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


def test_transient_errors_are_never_enoent():
    err = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert err.errno == errno.EIO
    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))


@pytest.mark.parametrize("code,status,transient", [
    ("ThrottlingException", 400, True), ("RequestLimitExceeded", 503, True), ("InternalError", 500, True),
    ("SlowDown", 503, True), ("AccessDenied", 403, False), ("ConditionalCheckFailedException", 400, False),
    ("ResourceNotFoundException", 400, False), ("ValidationException", 400, False),
])
def test_only_transient_errors_retry(code, status, transient):
    assert is_transient(client_error(code, status)) is transient
