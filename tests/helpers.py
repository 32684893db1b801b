"""Small helpers shared by the tests that drive the filesystem directly."""
import os


def read(fs, path):
    """What `cat` would get: open, read everything, release."""
    fh = fs.open(path, os.O_RDONLY)
    try:
        return fs.read(path, 1 << 20, 0, fh)
    finally:
        fs.release(path, fh)


def make_table(ddb, name, items=(), key_type="S"):
    """A table with hash key ``id`` of ``key_type``, holding ``items`` (DynamoDB JSON); returns ``ddb``."""
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": key_type}])
    for it in items:
        ddb.put_item(TableName=name, Item=it)
    return ddb
