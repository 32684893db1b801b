"""Small helpers shared by the tests that drive the filesystem directly."""
import os


def read(fs, path):
    """What `cat` would get: open, read everything, release."""
    fh = fs.open(path, os.O_RDONLY)
    try:
        return fs.read(path, 1 << 20, 0, fh)
    finally:
        fs.release(path, fh)


#: tables made by the running module's tests: deleted after it (see the root conftest), so that
#: the local AWS does not fill up with them (ListTables answers 100 names a page)
MADE: list = []


def make_table(ddb, name, items=(), key_type="S", keep=False):
    """A table with hash key ``id`` of ``key_type``, holding ``items`` (DynamoDB JSON); returns ``ddb``.
    It is deleted once the module's tests are done, unless ``keep``."""
    if not keep:
        MADE.append((ddb, name))
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": key_type}])
    for it in items:
        ddb.put_item(TableName=name, Item=it)
    return ddb


def save(fs, path, data: bytes):
    """A whole-file save as `cp`, `>` or Python's open('w') does it: open O_TRUNC, write, close."""
    fh = fs.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        fs.write(path, data, 0, fh)
        fs.flush(path, fh)
    finally:
        fs.release(path, fh)


def echo_into(fs, path, data: bytes):
    """bash `echo x > f` on an existing file: open, truncate by path, flush, write, flush, release."""
    fh = fs.open(path, os.O_WRONLY)
    try:
        fs.truncate(path, 0)
        fs.flush(path, fh)
        fs.write(path, data, 0, fh)
        fs.flush(path, fh)
    finally:
        fs.release(path, fh)


def create(fs, path, data: bytes):
    """A new file written whole: create, write, close."""
    fh = fs.create(path, 0o644, os.O_WRONLY | os.O_CREAT)
    try:
        fs.write(path, data, 0, fh)
        fs.flush(path, fh)
    finally:
        fs.release(path, fh)


def spent_since(fs, before):
    """The AWS calls made since ``before`` (a copy of ``fs.aws.calls``), by operation."""
    return {k: v - before.get(k, 0) for k, v in fs.aws.calls.items() if v != before.get(k, 0)}
