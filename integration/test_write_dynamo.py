"""DynamoDB items written through a real mount by the programs people use.

Every test makes its own table (the seeded demo data belongs to the read tests) and checks both
what the user sees (exit codes, messages, listings, /.awsfs/errors) and what DynamoDB holds.
"""
from __future__ import annotations

import errno
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from conftest import Tmux, wait_for

R, R2 = "us-east-1", "eu-west-1"
_DES, _SER = TypeDeserializer(), TypeSerializer()
# what `ls -a` shows in a table directory besides the items
TABLE_DIR_EXTRAS = {".table.json"}


# -- helpers -------------------------------------------------------------------------------------

def get(boto, table: str, key: dict, region: str = R) -> dict | None:
    """The item as DynamoDB holds it, deserialized (numbers are Decimal, sets are sets)."""
    got = boto("dynamodb", region).get_item(TableName=table, Key={k: _SER.serialize(v) for k, v in key.items()},
                                            ConsistentRead=True).get("Item")
    return None if got is None else {k: _DES.deserialize(v) for k, v in got.items()}


def raw(boto, table: str, key: dict, region: str = R) -> dict | None:
    """The item's typed attribute values, exactly as DynamoDB returns them."""
    return boto("dynamodb", region).get_item(TableName=table, Key={k: _SER.serialize(v) for k, v in key.items()},
                                             ConsistentRead=True).get("Item")


def scan_count(boto, table: str, region: str = R) -> int:
    return boto("dynamodb", region).scan(TableName=table, Select="COUNT")["Count"]


def ls_a(mnt, rel: str) -> set[str]:
    """Names `ls -a` prints (without . and ..)."""
    return set(mnt.sh(f"ls -a {shlex.quote(rel)}").stdout.split("\n")) - {"", ".", ".."}


def cat_json(mnt, rel: str) -> dict:
    return json.loads(mnt.sh(f"cat {shlex.quote(rel)}").stdout, parse_float=Decimal, parse_int=Decimal)


def q(s: str) -> str:
    return shlex.quote(s)


def bash(mnt, cmd: str, check: bool = True):
    """Run ``cmd`` in bash (mnt.sh uses /bin/sh): ``echo`` is then bash's builtin, as people type it."""
    return mnt.sh(cmd, check=check, executable="/bin/bash")


def puts(mnt) -> int:
    """How many PutItem calls this mount has made (ok or failed)."""
    return mnt.status()["aws_calls"].get("dynamodb:PutItem", 0)


def writes(mnt) -> dict[str, int]:
    calls = mnt.status()["aws_calls"]
    return {k: v for k, v in calls.items()
            if k in ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:TransactWriteItems",
                     "dynamodb:BatchWriteItem")}


HR = {"hash": ("pk", "S"), "range": ("sk", "N")}


# -- create and update ---------------------------------------------------------------------------

def test_echo_creates_and_bin_echo_updates(mnt, ddb_table, boto):
    t = ddb_table([{"id": "old", "v": "x"}])
    d = f"dynamo/{R}/{t}"
    r = bash(mnt, f"""echo '{{"id": "new", "n": 1, "tags": {{"$ss": ["a", "b"]}}}}' > {d}/new.json""")
    assert r.returncode == 0 and r.stderr == ""
    assert get(boto, t, {"id": "new"}) == {"id": "new", "n": 1, "tags": {"a", "b"}}
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"new.json", "old.json"}
    assert cat_json(mnt, f"{d}/new.json") == {"id": "new", "n": 1, "tags": {"$ss": ["a", "b"]}}

    mnt.sh(f"""/bin/echo '{{"id": "old", "v": "y", "w": true}}' > {d}/old.json""")
    assert get(boto, t, {"id": "old"}) == {"id": "old", "v": "y", "w": True}
    assert cat_json(mnt, f"{d}/old.json") == {"id": "old", "v": "y", "w": True}
    assert scan_count(boto, t) == 2


def test_hash_range_items_in_partition_directories(mnt, ddb_table, boto, tmp_path):
    t = ddb_table([{"pk": "p1", "sk": Decimal(1), "v": "one"}], **HR)
    d = f"dynamo/{R}/{t}"
    # a new item in an existing partition, an update, and a new partition made with mkdir
    bash(mnt, f"""echo '{{"pk": "p1", "sk": 2, "v": "two"}}' > {d}/p1/2.json""")
    mnt.sh(f"""/bin/echo '{{"pk": "p1", "sk": 1, "v": "ONE"}}' > {d}/p1/1.json""")
    bash(mnt, f"""mkdir {d}/p2 && echo '{{"pk": "p2", "sk": 5, "v": "five"}}' > {d}/p2/5.json""")
    assert get(boto, t, {"pk": "p1", "sk": 2})["v"] == "two"
    assert get(boto, t, {"pk": "p1", "sk": 1})["v"] == "ONE"
    assert get(boto, t, {"pk": "p2", "sk": 5})["v"] == "five"
    assert sorted(os.listdir(mnt.p(d))) == [".table.json", "p1", "p2"]
    assert sorted(os.listdir(mnt.p(f"{d}/p1"))) == ["1.json", "2.json"]
    assert cat_json(mnt, f"{d}/p2/5.json") == {"pk": "p2", "sk": 5, "v": "five"}

    # copied into the table's root, an item goes to its partition
    bash(mnt, f"""printf '{{"pk": "p7", "sk": 3, "v": "root"}}' > {tmp_path}/any.json && cp {tmp_path}/any.json {d}/""")
    assert get(boto, t, {"pk": "p7", "sk": 3}) == {"pk": "p7", "sk": 3, "v": "root"}
    assert sorted(os.listdir(mnt.p(d))) == [".table.json", "p1", "p2", "p7"]
    assert os.listdir(mnt.p(f"{d}/p7")) == ["3.json"]

    # vim's rename save inside a partition
    r = mnt.sh(f"vim -N -u NONE -es -c '%s/two/TWO/' -c wq {d}/p1/2.json", check=False)
    assert r.returncode == 0, r.stderr
    assert get(boto, t, {"pk": "p1", "sk": 2})["v"] == "TWO"
    assert ls_a(mnt, f"{d}/p1") == {"1.json", "2.json"}

    # an item whose partition key does not match its directory is refused
    r = mnt.sh(f"""/bin/echo '{{"pk": "p2", "sk": 9}}' > {d}/p1/9.json""", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    assert get(boto, t, {"pk": "p2", "sk": 9}) is None and get(boto, t, {"pk": "p1", "sk": 9}) is None
    assert "key mismatch" in mnt.errors()
    assert scan_count(boto, t) == 4


# -- editors ---------------------------------------------------------------------------------------

VIM_MODES = {
    # nocompatible: backupcopy=auto -> rename FILE to FILE~, write a new FILE, fsync
    "rename": "vim -N -u NONE -es",
    # compatible (no -N): backupcopy=yes -> copy FILE to FILE~, overwrite FILE in place
    "copy": "vim -u NONE -es",
}


@pytest.mark.parametrize("mode", VIM_MODES)
def test_vim_save(mnt, ddb_table, boto, mode):
    t = ddb_table([{"id": "doc", "color": "red", "n": Decimal("12345678901234567890.123456")},
                   {"id": "other", "color": "red"}])
    d = f"dynamo/{R}/{t}"
    r = mnt.sh(f"{VIM_MODES[mode]} -c '%s/red/blue/' -c wq {d}/doc.json", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert raw(boto, t, {"id": "doc"}) == {"id": {"S": "doc"}, "color": {"S": "blue"},
                                           "n": {"N": "12345678901234567890.123456"}}
    assert get(boto, t, {"id": "other"})["color"] == "red"
    assert '"color": "blue"' in mnt.sh(f"cat {d}/doc.json").stdout
    # no FILE~, .FILE.swp or 4913 left behind, and none of them reached DynamoDB
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"doc.json", "other.json"}
    assert scan_count(boto, t) == 2


@pytest.mark.parametrize("mode", VIM_MODES)
@pytest.mark.parametrize("edit, reason", [
    ("%s/}/]/", "invalid JSON"),                          # the last line "}" becomes "]"
    ('%s/"id": "doc"/"id": "elsewhere"/', "key mismatch"),  # the key changed in the editor
], ids=["invalid-json", "key-changed"])
def test_vim_failed_save_keeps_the_item(mnt, ddb_table, boto, mode, edit, reason):
    t = ddb_table([{"id": "doc", "color": "red"}])
    d = f"dynamo/{R}/{t}"
    before = mnt.sh(f"cat {d}/doc.json").stdout
    r = mnt.sh(f"{VIM_MODES[mode]} -c {q(edit)} -c wq {d}/doc.json", check=False)
    assert r.returncode != 0
    # the item is neither changed nor deleted, and the file still shows it
    assert get(boto, t, {"id": "doc"}) == {"id": "doc", "color": "red"}
    assert get(boto, t, {"id": "elsewhere"}) is None
    assert scan_count(boto, t) == 1
    assert mnt.sh(f"cat {d}/doc.json").stdout == before
    assert "doc.json" in ls_a(mnt, d)
    assert reason in mnt.errors()
    if mode == "rename":
        # vim renames its backup back over the file: nothing is left behind
        assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"doc.json"}


def test_vim_saving_an_empty_buffer_does_not_hide_the_item(mnt, ddb_table, boto):
    t = ddb_table([{"id": "doc", "color": "red"}])
    d = f"dynamo/{R}/{t}"
    before = mnt.sh(f"cat {d}/doc.json").stdout
    r = mnt.sh(f"vim -N -u NONE -es -c '%d' -c wq {d}/doc.json", check=False)
    assert r.returncode != 0  # the save is refused, not silently dropped
    assert "an empty file cannot be saved" in mnt.errors()
    assert get(boto, t, {"id": "doc"}) == {"id": "doc", "color": "red"}  # an empty file deletes nothing
    # the item still exists, so its file must still be listed and readable
    assert "doc.json" in ls_a(mnt, d)
    assert mnt.sh(f"cat {d}/doc.json", check=False).stdout == before


def test_nano_save_in_tmux(mnt, ddb_table, boto):
    t = ddb_table([{"id": "doc", "color": "red", "size": Decimal(3)}])
    d = f"dynamo/{R}/{t}"

    ed = Tmux(mnt.p(d), "nano doc.json")
    try:
        ed.wait('"color": "red"', "nano to show the item")
        ed.nano_replace_all("red", "green", '"color": "green"')
        assert "Wrote" in ed.nano_save(), ed.screen()
        wait_for(lambda: (get(boto, t, {"id": "doc"}) or {}).get("color") == "green", timeout=5,
                 what="DynamoDB to hold the change")
        assert mnt.errors() == ""

        # a second edit breaks the JSON: nano shows the error and DynamoDB keeps the first save
        ed.nano_replace_all('"size": 3', '"size": 3,', '"size": 3,')  # a trailing comma
        screen = ed.nano_save()
        assert "Error writing" in screen and "Invalid argument" in screen, screen
        ed.keys("C-x")
        ed.wait("Save modified buffer", "nano to ask about the unsaved buffer")
        ed.keys("n")
        wait_for(lambda: not ed.alive(), what="nano to exit")
    finally:
        ed.kill()
    assert get(boto, t, {"id": "doc"}) == {"id": "doc", "color": "green", "size": 3}
    assert cat_json(mnt, f"{d}/doc.json") == {"id": "doc", "color": "green", "size": 3}
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"doc.json"}  # nano's lock file .doc.json.swp is gone
    assert "invalid JSON" in mnt.errors()


# -- other tools -----------------------------------------------------------------------------------

def test_sed_rsync_cp_and_python_update_items(mnt, ddb_table, boto, tmp_path):
    names = ["sed", "rsync", "inplace", "cp", "py"]
    t = ddb_table([{"id": n, "v": "before"} for n in names])
    d = f"dynamo/{R}/{t}"

    mnt.sh(f"sed -i 's/before/by sed/' {d}/sed.json")

    src = tmp_path / "rsync.json"
    src.write_text('{"id": "rsync", "v": "by rsync", "extra": [1, 2]}\n')
    mnt.sh(f"rsync {src} {d}/rsync.json")                    # .rsync.json.XXXXXX, then rename onto the item

    src = tmp_path / "inplace.json"
    src.write_text('{"id": "inplace", "v": "in place"}\n')   # shorter than the item's file: ftruncate
    mnt.sh(f"rsync --inplace {src} {d}/inplace.json")

    (tmp_path / "other.json").write_text('{"id": "cp", "v": "by cp"}')
    mnt.sh(f"cp {tmp_path}/other.json {d}/cp.json")

    with open(mnt.p(f"{d}/py.json"), "w") as f:
        f.write('{"id": "py", "v": "by python", "n": 7}')

    assert get(boto, t, {"id": "sed"}) == {"id": "sed", "v": "by sed"}
    assert get(boto, t, {"id": "rsync"}) == {"id": "rsync", "v": "by rsync", "extra": [1, 2]}
    assert get(boto, t, {"id": "inplace"}) == {"id": "inplace", "v": "in place"}
    assert get(boto, t, {"id": "cp"}) == {"id": "cp", "v": "by cp"}
    assert get(boto, t, {"id": "py"}) == {"id": "py", "v": "by python", "n": 7}
    assert cat_json(mnt, f"{d}/inplace.json") == {"id": "inplace", "v": "in place"}
    # no sedXXXXXX or .NAME.XXXXXX left, nothing else reached DynamoDB
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {f"{n}.json" for n in names}
    assert scan_count(boto, t) == len(names)
    assert mnt.errors() == ""


def test_cp_under_any_name_lands_under_the_items_key(mnt, ddb_table, boto, tmp_path):
    t = ddb_table([{"id": "a"}])
    d = f"dynamo/{R}/{t}"
    (tmp_path / "whatever.json").write_text('{"id": "carol/ops", "n": 1}')
    (tmp_path / "x.json").write_text('{"id": "k2"}')
    mnt.sh(f"cp {tmp_path}/whatever.json {d}/ && cp {tmp_path}/x.json {d}/renamed.json")
    assert get(boto, t, {"id": "carol/ops"}) == {"id": "carol/ops", "n": 1}
    assert get(boto, t, {"id": "k2"}) == {"id": "k2"}
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"a.json", "carol%2Fops.json", "k2.json"}
    assert cat_json(mnt, f"{d}/carol%2Fops.json") == {"id": "carol/ops", "n": 1}
    r = mnt.sh(f"cat {d}/whatever.json", check=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    assert scan_count(boto, t) == 3


def test_retry_right_after_a_failed_create_succeeds(mnt, ddb_table, boto):
    t = ddb_table()
    d = f"dynamo/{R}/{t}"
    # a typo (refused), then the fixed content at once
    r = bash(mnt, f"""/bin/echo '{{"id": "n1", ' > {d}/n1.json; echo "first=$?"; """
             f"""/bin/echo '{{"id": "n1"}}' > {d}/n1.json; echo "second=$?" """, check=False)
    assert "first=1" in r.stdout and "Invalid argument" in r.stderr
    assert "second=0" in r.stdout, r.stderr
    assert get(boto, t, {"id": "n1"}) == {"id": "n1"}


# -- refused writes --------------------------------------------------------------------------------

def test_content_with_another_key_is_refused(mnt, ddb_table, boto):
    t = ddb_table([{"id": "a", "v": "kept"}, {"id": "b", "v": "also kept"}])
    d = f"dynamo/{R}/{t}"
    r = mnt.sh(f"""/bin/echo '{{"id": "b", "v": "stolen"}}' > {d}/a.json""", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    with pytest.raises(OSError) as e:
        with open(mnt.p(f"{d}/a.json"), "w") as f:
            f.write('{"id": "zz"}')
    assert e.value.errno == errno.EINVAL
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "kept"}
    assert get(boto, t, {"id": "b"}) == {"id": "b", "v": "also kept"}
    assert get(boto, t, {"id": "zz"}) is None
    assert "key mismatch" in mnt.errors()
    assert cat_json(mnt, f"{d}/a.json") == {"id": "a", "v": "kept"}


BAD = {
    "invalid-json": ('{"id": "ID", "v": ', "invalid JSON"),
    "empty-set": ('{"id": "ID", "s": {"$ss": []}}', "empty set"),
    "39-digits": ('{"id": "ID", "n": 123456789012345678901234567890123456789}', "39 significant digits"),
}


@pytest.mark.parametrize("case", BAD)
def test_invalid_content_is_refused_at_close(mnt, ddb_table, boto, tmp_path, case):
    text, reason = BAD[case]
    t = ddb_table([{"id": "a", "v": "kept"}])
    d = f"dynamo/{R}/{t}"
    calls = writes(mnt)
    # /bin/echo onto an existing item
    r = mnt.sh(f"/bin/echo {q(text.replace('ID', 'a'))} > {d}/a.json", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    # cat into a new item
    (tmp_path / "new.json").write_text(text.replace("ID", "new"))
    r = mnt.sh(f"cat {tmp_path}/new.json > {d}/new.json", check=False)
    assert r.returncode == 1 and "Invalid argument" in r.stderr
    # python, explicit close
    with pytest.raises(OSError) as e:
        with open(mnt.p(f"{d}/a.json"), "w") as f:
            f.write(text.replace("ID", "a"))
    assert e.value.errno == errno.EINVAL
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "kept"}
    assert get(boto, t, {"id": "new"}) is None
    assert scan_count(boto, t) == 1
    assert reason in mnt.errors()
    assert writes(mnt) == calls  # refused before reaching AWS
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"a.json"}


def test_item_over_400_kb_is_too_large(mnt, ddb_table, boto, tmp_path):
    t = ddb_table([{"id": "a", "v": "kept"}])
    d = f"dynamo/{R}/{t}"
    big = json.dumps({"id": "a", "blob": "x" * (401 * 1024)})
    with pytest.raises(OSError) as e:
        with open(mnt.p(f"{d}/a.json"), "w") as f:
            f.write(big)
    assert e.value.errno == errno.EFBIG
    (tmp_path / "big.json").write_text(big.replace('"a"', '"big"', 1))
    r = mnt.sh(f"cp {tmp_path}/big.json {d}/", check=False)
    assert r.returncode == 1 and "File too large" in r.stderr
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "kept"}
    assert get(boto, t, {"id": "big"}) is None
    assert "EFBIG" in mnt.errors()
    # just under the limit is fine
    ok = json.dumps({"id": "a", "blob": "y" * (390 * 1024)})
    with open(mnt.p(f"{d}/a.json"), "w") as f:
        f.write(ok)
    assert get(boto, t, {"id": "a"})["blob"] == "y" * (390 * 1024)


def test_emptying_an_item_changes_nothing(mnt, ddb_table, boto):
    t = ddb_table([{"id": "a", "v": "kept"}])
    d = f"dynamo/{R}/{t}"
    bash(mnt, f": > {d}/a.json; echo > {d}/a.json", check=False)   # empty, then a lone newline
    mnt.sh(f"truncate -s 0 {d}/a.json", check=False)
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "kept"}
    assert cat_json(mnt, f"{d}/a.json") == {"id": "a", "v": "kept"}
    assert writes(mnt) == {}


def test_ftruncate_by_one_writer_leaves_another_writers_buffer_alone(mnt, ddb_table, boto):
    """Two programs hold the same item open for writing; one truncates its file (ftruncate) and
    writes a new version. The other one's buffer is not cut with it: it closes without an error
    and without a write (an emptied buffer would be refused at its close), and the item is the
    first one's new version."""
    t = ddb_table([{"id": "a", "v": "old"}])
    path = mnt.p(f"dynamo/{R}/{t}/a.json")
    a, b = os.open(path, os.O_RDWR), os.open(path, os.O_RDWR)
    try:
        os.ftruncate(a, 0)
        os.write(a, json.dumps({"id": "a", "v": "new"}).encode())
    finally:
        os.close(b)  # nothing written through b: nothing to commit, no error
        os.close(a)
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "new"}
    assert writes(mnt) == {"dynamodb:PutItem": 1}


# -- copies ------------------------------------------------------------------------------------------

RICH = [
    {"id": "alice", "balance": Decimal("12345678901234567890.123456"), "roles": {"admin", "billing"},
     "scores": {Decimal("1.5"), Decimal("7"), Decimal("-10")}, "avatar": Binary(b"\x89PNG\r\n\x00\xff"),
     "address": {"city": "Oxford", "geo": {"lat": Decimal("51.752"), "tags": ["a", Decimal(1), None, True]}},
     "history": [{"n": Decimal("0.000001")}, [Decimal("1E+100"), "x"], {"$ss": "not a tag here"}],
     "empty": "", "nothing": None, "flag": False, "emptymap": {}, "emptylist": []},
    {"id": "bob", "blobs": {Binary(b"\x00"), Binary(b"\x01\x02")}, "tiny": Decimal("1.5E-50"),
     "neg": Decimal("-99999999999999999999999999999999999999")},
    {"id": "carol/ops", "name": "Carol (ops) \u00e9\u6f22"},
]


def test_copy_a_table_out_and_back(mnt, ddb_table, boto, tmp_path):
    src = ddb_table(RICH)
    dst = ddb_table(region=R2)
    out = tmp_path / "copy"
    mnt.sh(f"cp -r dynamo/{R}/{src} {out}")
    assert sorted(os.listdir(out)) == [".table.json", "alice.json", "bob.json", "carol%2Fops.json"]
    mnt.sh(f"cp {out}/*.json dynamo/{R2}/{dst}/")
    assert scan_count(boto, dst, R2) == len(RICH)
    for item in RICH:
        key = {"id": item["id"]}
        assert get(boto, dst, key, R2) == get(boto, src, key) == item
        # typed, exact: numbers keep every digit
        for name, av in raw(boto, src, key).items():
            copied = raw(boto, dst, key, R2)[name]
            if "N" in av:
                assert Decimal(copied["N"]) == Decimal(av["N"]) and copied.keys() == av.keys()
    assert sorted(os.listdir(mnt.p(f"dynamo/{R2}/{dst}"))) == sorted(os.listdir(out))
    # and byte for byte the same files
    for name in ("alice.json", "bob.json", "carol%2Fops.json"):
        assert mnt.sh(f"cat dynamo/{R2}/{dst}/{q(name)}").stdout == (out / name).read_text()


def test_copy_a_hash_range_table_with_cp_r(mnt, ddb_table, boto, tmp_path):
    items = [{"pk": "p1", "sk": Decimal(1), "v": "a"}, {"pk": "p1", "sk": Decimal("2.5"), "v": "b"},
             {"pk": "p/2", "sk": Decimal(-3), "s": {"x", "y"}}]
    src = ddb_table(items, **HR)
    dst = ddb_table(region=R2, **HR)
    out = tmp_path / "copy"
    mnt.sh(f"cp -r dynamo/{R}/{src} {out}")
    mnt.sh(f"cp -r {out}/* dynamo/{R2}/{dst}/")                 # mkdir each partition, then its items
    for item in items:
        key = {"pk": item["pk"], "sk": item["sk"]}
        assert get(boto, dst, key, R2) == item
    assert scan_count(boto, dst, R2) == 3
    assert sorted(os.listdir(mnt.p(f"dynamo/{R2}/{dst}/p1"))) == ["1.json", "2.5.json"]


def test_cp_p_round_trip(mnt, ddb_table, boto, tmp_path):
    t = ddb_table([{"id": "a", "v": "one"}])
    d = f"dynamo/{R}/{t}"
    mnt.sh(f"cp -p {d}/a.json {tmp_path}/a.json")
    mnt.sh(f"sed -i 's/one/two/' {tmp_path}/a.json")
    r = mnt.sh(f"cp -p {tmp_path}/a.json {d}/a.json", check=False)            # chmod + utimens on an item
    assert r.returncode == 0, r.stderr
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "two"}
    mnt.sh(f"sed -i 's/\"a\"/\"b\"/' {tmp_path}/a.json && cp -p {tmp_path}/a.json {d}/b.json")  # a new item
    assert get(boto, t, {"id": "b"}) == {"id": "b", "v": "two"}
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"a.json", "b.json"}


# -- rm and mv -----------------------------------------------------------------------------------------

def test_rm_deletes_and_mv_moves(mnt, ddb_table, boto):
    t = ddb_table([{"id": "a", "v": "A"}, {"id": "b", "v": "B", "n": Decimal("1.25")}, {"id": "keep"}])
    d = f"dynamo/{R}/{t}"
    mnt.sh(f"rm {d}/a.json")
    assert get(boto, t, {"id": "a"}) is None
    mnt.sh(f"mv {d}/b.json {d}/c.json")
    assert get(boto, t, {"id": "b"}) is None
    assert get(boto, t, {"id": "c"}) == {"id": "c", "v": "B", "n": Decimal("1.25")}
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"c.json", "keep.json"}
    assert cat_json(mnt, f"{d}/c.json") == {"id": "c", "v": "B", "n": Decimal("1.25")}
    assert scan_count(boto, t) == 2


def test_rm_of_an_item_someone_holds_open_deletes_it(mnt, ddb_table, boto):
    t = ddb_table([{"id": "a", "v": "doomed"}, {"id": "b"}])
    d = f"dynamo/{R}/{t}"
    with open(mnt.p(f"{d}/a.json")) as held:       # e.g. `less a.json` in another terminal
        assert json.loads(held.read())["v"] == "doomed"
        r = mnt.sh(f"rm {d}/a.json", check=False)
        assert r.returncode == 0, r.stderr
        assert "a.json" not in ls_a(mnt, d)
    assert get(boto, t, {"id": "a"}) is None
    assert scan_count(boto, t) == 1


def test_a_file_open_when_removed_reads_on_and_is_never_saved(mnt, ddb_table, boto):
    """As on a disk: a program holding a file open when it is removed goes on reading what it had,
    and its writes go nowhere: closing succeeds and AWS keeps the removal."""
    t = ddb_table([{"id": "a", "v": "read on"}, {"id": "b", "v": "old"}])
    a, b = mnt.p(f"dynamo/{R}/{t}/a.json"), mnt.p(f"dynamo/{R}/{t}/b.json")
    r, w = os.open(a, os.O_RDONLY), os.open(b, os.O_RDWR)
    try:
        os.unlink(a)
        os.unlink(b)
        assert json.loads(os.pread(r, 1 << 16, 0)) == {"id": "a", "v": "read on"}
        os.ftruncate(w, 0)
        os.pwrite(w, json.dumps({"id": "b", "v": "written after rm"}).encode(), 0)
        assert json.loads(os.pread(w, 1 << 16, 0)) == {"id": "b", "v": "written after rm"}
    finally:
        os.close(r)
        os.close(w)
    assert get(boto, t, {"id": "a"}) is None and get(boto, t, {"id": "b"}) is None
    assert writes(mnt) == {"dynamodb:DeleteItem": 2}
    assert mnt.errors() == ""


def test_rm_r_of_a_partition_deletes_its_items_and_succeeds(mnt, ddb_table, boto):
    t = ddb_table([{"pk": "p1", "sk": Decimal(1)}, {"pk": "p1", "sk": Decimal(2)}, {"pk": "p2", "sk": Decimal(1)}], **HR)
    d = f"dynamo/{R}/{t}"
    r = mnt.sh(f"rm -r {d}/p1", check=False)
    assert r.returncode == 0, r.stderr
    assert scan_count(boto, t) == 1
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"p2"}
    r = mnt.sh(f"rmdir {d}/p2", check=False)  # a partition with items is not empty
    assert r.returncode != 0 and "not empty" in r.stderr.lower()
    assert scan_count(boto, t) == 1


def test_mv_between_partitions_and_tables(mnt, ddb_table, boto):
    hr = ddb_table([{"pk": "p1", "sk": Decimal(1), "v": "x"}], **HR)
    t1 = ddb_table([{"id": "m", "v": "moved"}, {"id": "stay", "v": "source"}])
    t2 = ddb_table()
    mnt.sh(f"mkdir dynamo/{R}/{hr}/p2 && mv dynamo/{R}/{hr}/p1/1.json dynamo/{R}/{hr}/p2/7.json")
    assert get(boto, hr, {"pk": "p1", "sk": 1}) is None
    assert get(boto, hr, {"pk": "p2", "sk": 7}) == {"pk": "p2", "sk": 7, "v": "x"}
    # another table with the same key schema: mv copies, then deletes the source
    mnt.sh(f"mv dynamo/{R}/{t1}/m.json dynamo/{R}/{t2}/")
    assert get(boto, t2, {"id": "m"}) == {"id": "m", "v": "moved"}
    assert get(boto, t1, {"id": "m"}) is None
    # a table whose schema does not fit: the copy fails and the source is never lost
    r = mnt.sh(f"mv dynamo/{R}/{t1}/stay.json dynamo/{R}/{hr}/p1/", check=False)
    assert r.returncode != 0
    assert get(boto, t1, {"id": "stay"}) == {"id": "stay", "v": "source"}
    assert "stay.json" in ls_a(mnt, f"dynamo/{R}/{t1}")
    assert scan_count(boto, hr) == 1


def test_editor_scratch_files_never_reach_dynamodb(mnt, ddb_table, boto):
    t = ddb_table([{"id": "x", "v": "kept"}])
    d = f"dynamo/{R}/{t}"
    scratch = [".x.json.swp", ".x.swp", "4913", "x.json~", "x~", "sedAbc123", ".x.json.Ab12Cd", "x.json.save"]
    for name in scratch:
        mnt.sh(f"""/bin/echo '{{"id": "scratch-{name}"}}' > {d}/{q(name)}""")
    assert scan_count(boto, t) == 1
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"x.json"} | set(scratch)
    assert json.loads(mnt.sh(f"cat {d}/4913").stdout) == {"id": "scratch-4913"}
    mnt.sh(f"rm {' '.join(q(f'{d}/{n}') for n in scratch)}")
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"x.json"}
    assert get(boto, t, {"id": "x"}) == {"id": "x", "v": "kept"}
    assert scan_count(boto, t) == 1
    assert writes(mnt) == {}


def test_listing_after_a_whiteout_expires(mount_awsfs, ddb_table, boto):
    m = mount_awsfs(whiteout_seconds=1)
    t = ddb_table([{"id": "x", "v": "kept"}, {"id": "y"}])
    d = f"dynamo/{R}/{t}"
    m.sh(f"mv {d}/x.json {d}/x.json.bak")  # an item renamed to a scratch name: a local snapshot, hidden
    assert ls_a(m, d) == TABLE_DIR_EXTRAS | {"x.json.bak", "y.json"}
    assert get(boto, t, {"id": "x"}) == {"id": "x", "v": "kept"}
    time.sleep(1.5)
    r = m.sh(f"ls -a {d}", check=False)
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) - {".", ".."} == TABLE_DIR_EXTRAS | {"x.json", "x.json.bak", "y.json"}


# -- conflicts and no-op saves ---------------------------------------------------------------------

@pytest.mark.parametrize("writer", ["bin-echo", "python", "vim-rename", "vim-copy"])
def test_conflicting_change_is_refused_with_estale(mnt, ddb_table, boto, local_aws, tmp_path, writer):
    t = ddb_table([{"id": "a", "v": "original"}])
    d = f"dynamo/{R}/{t}"
    theirs = tmp_path / "theirs.py"   # the other writer, behind awsfs's back
    theirs.write_text(
        "import boto3\n"
        f"boto3.client('dynamodb', region_name={R!r}, endpoint_url={local_aws.url!r}, aws_access_key_id='demo',"
        " aws_secret_access_key='demo').put_item("
        f"TableName={t!r}, Item={{'id': {{'S': 'a'}}, 'v': {{'S': 'theirs'}}}})\n")
    mine = '{"id": "a", "v": "mine"}'
    if writer.startswith("vim"):
        # vim reads the item, the other writer changes it while vim is open, then vim saves
        vim = VIM_MODES["rename" if writer == "vim-rename" else "copy"]
        r = mnt.sh(f"{vim} -c '%s/original/mine/' -c {q('!' + sys.executable + ' ' + str(theirs))} -c wq {d}/a.json",
                   check=False)
        assert r.returncode != 0
        assert "a.json" in ls_a(mnt, d)
    else:
        assert cat_json(mnt, f"{d}/a.json") == {"id": "a", "v": "original"}
        subprocess.run([sys.executable, str(theirs)], check=True, timeout=30)
        if writer == "bin-echo":
            r = mnt.sh(f"/bin/echo {q(mine)} > {d}/a.json", check=False)
            assert r.returncode == 1 and "Stale file handle" in r.stderr
        else:
            with pytest.raises(OSError) as e:
                with open(mnt.p(f"{d}/a.json"), "w") as f:
                    f.write(mine)
            assert e.value.errno == errno.ESTALE
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "theirs"}
    stale = [line for line in mnt.errors().splitlines() if "ESTALE" in line]
    assert stale and all("a.json" in line and "changed" in line for line in stale), mnt.errors()
    # re-reading shows the other change; saving again then works
    assert cat_json(mnt, f"{d}/a.json") == {"id": "a", "v": "theirs"}
    mnt.sh(f"/bin/echo {q(mine)} > {d}/a.json")
    assert get(boto, t, {"id": "a"}) == {"id": "a", "v": "mine"}


def test_create_conflicting_with_an_item_made_meanwhile_is_refused(mnt, ddb_table, boto):
    t = ddb_table([{"id": "a"}])
    d = f"dynamo/{R}/{t}"
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"a.json"}          # awsfs has listed the table
    boto("dynamodb").put_item(TableName=t, Item={"id": {"S": "late"}, "v": {"S": "theirs"}})
    r = mnt.sh(f"""/bin/echo '{{"id": "late", "v": "mine"}}' > {d}/late.json""", check=False)
    assert r.returncode == 1 and "File exists" in r.stderr  # a create that finds the name taken
    assert get(boto, t, {"id": "late"}) == {"id": "late", "v": "theirs"}
    assert "late.json" in mnt.errors()
    assert cat_json(mnt, f"{d}/late.json") == {"id": "late", "v": "theirs"}


def test_save_over_an_item_deleted_meanwhile_is_refused(mnt, ddb_table, boto):
    t = ddb_table([{"id": "a", "v": "original"}])
    d = f"dynamo/{R}/{t}"
    mnt.sh(f"cat {d}/a.json")
    boto("dynamodb").delete_item(TableName=t, Key={"id": {"S": "a"}})
    r = mnt.sh(f"""/bin/echo '{{"id": "a", "v": "mine"}}' > {d}/a.json""", check=False)
    assert r.returncode == 1 and "Stale file handle" in r.stderr
    assert get(boto, t, {"id": "a"}) is None  # not resurrected
    assert "deleted" in mnt.errors()


def test_unchanged_content_makes_no_aws_write(mnt, ddb_table, boto, tmp_path):
    t = ddb_table([{"id": "a", "n": Decimal("1.50"), "s": {"y", "x"}, "m": {"k": [Decimal(1), "z"]}}])
    d = f"dynamo/{R}/{t}"
    before = raw(boto, t, {"id": "a"})
    mnt.sh(f"cat {d}/a.json > {tmp_path}/a.json && cp {tmp_path}/a.json {d}/a.json")
    mnt.sh(f"vim -N -u NONE -es -c w -c q {d}/a.json")                   # :w with nothing changed
    mnt.sh(f"sed -i 's/no such text/x/' {d}/a.json")
    # the same item written differently: other order, other spacing, 1.5 for 1.50
    mnt.sh(f"""/bin/echo '{{"m": {{"k": [1, "z"]}}, "s": {{"$ss": ["x", "y"]}}, "n": 1.5, "id": "a"}}' > {d}/a.json""")
    with open(mnt.p(f"{d}/a.json"), "w") as f:
        f.write(mnt.sh(f"cat {d}/a.json").stdout)
    assert writes(mnt) == {}
    assert raw(boto, t, {"id": "a"}) == before
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"a.json"}
    # a real change does write, once
    mnt.sh(f"sed -i 's/\"z\"/\"zz\"/' {d}/a.json")
    assert writes(mnt) == {"dynamodb:PutItem": 1}
    assert get(boto, t, {"id": "a"})["m"] == {"k": [1, "zz"]}


def test_vim_saves_in_tmux_keep_a_stable_forward_mtime(mnt, ddb_table, boto):
    """An interactive vim (rename save: f -> f~, create f, write, fsync, close, unlink f~) saves twice
    after two edits, then once more unchanged: no "The file has been changed since reading it!!!",
    and each save leaves one mtime that stays put (also past libfuse 3's 1 s attribute timeout) and
    is later than the one before it; a second process stat-ing the file all along never sees the
    mtime go back. (The mount is outside /tmp: vim's 'backupskip' would hide the rename save.)"""
    t = ddb_table([{"id": "doc", "color": "red", "size": Decimal(3)}])
    d = f"dynamo/{R}/{t}"
    f = mnt.p(f"{d}/doc.json")
    problems: list[str] = []

    def screen() -> str:
        return ed.screen()

    def ex(cmd: str) -> None:
        ed.keys("-l", f":{cmd}")
        ed.keys("Enter")

    # another process watching the file (as `ls -l`, make or a file manager would)
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                m = os.stat(f).st_mtime_ns
            except FileNotFoundError:  # between vim's rename(f -> f~) and its create(f)
                m = None
            if m is not None and (not seen or seen[-1] != m):
                seen.append(m)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    # -N: nocompatible, so backupcopy=auto (the rename save); -i NONE: no viminfo
    ed = Tmux(mnt.p(d), "vim -N -u NONE -i NONE doc.json")
    try:
        wait_for(lambda: '"color": "red"' in screen(), what="vim to show the item")
        before = os.stat(f).st_mtime_ns
        saves = [("%s/red/blue/", "blue"), ("%s/blue/green/", "green"), (None, "green")]  # the last: no change
        for n, (edit, color) in enumerate(saves, 1):
            if edit:
                ex(edit)
                wait_for(lambda: f'"color": "{color}"' in screen(), what=f"edit {n}")
            ex("redraw!")  # a clean message line: what follows is this :w's
            wait_for(lambda: "written" not in screen(), what="the message line to clear")
            ex("w")
            wait_for(lambda: "written" in screen() or "(y/n)" in screen() or "E5" in screen(),
                     what=f"vim to answer :w {n}")
            if "changed since reading it" in screen():
                problems.append(f":w {n}: vim warned 'The file has been changed since reading it!!!'")
                ed.keys("y")  # save anyway, and go on
                wait_for(lambda: "written" in screen() or "E5" in screen(), what=f"vim to finish :w {n}")
            assert "written" in screen(), f":w {n}:\n{screen()}"
            wait_for(lambda: (get(boto, t, {"id": "doc"}) or {}).get("color") == color, timeout=5,
                     what=f"DynamoDB to hold save {n}")
            right_after = os.stat(f).st_mtime_ns
            time.sleep(1.5)  # a person's pause before the next edit, longer than attr_timeout
            later = os.stat(f).st_mtime_ns
            if later != right_after:
                problems.append(f":w {n}: the mtime moved after the save: {right_after / 1e9:.6f} -> {later / 1e9:.6f}")
            if right_after <= before:
                problems.append(f":w {n}: the mtime did not move forward: {before / 1e9:.6f} -> {right_after / 1e9:.6f}")
            before = later
        ex("q")
        wait_for(lambda: not ed.alive(), what="vim to exit")
    finally:
        stop.set()
        watcher.join(timeout=5)
        ed.kill()
    back = [(a / 1e9, b / 1e9) for a, b in zip(seen, seen[1:]) if b < a]
    if back:
        problems.append(f"another process saw the mtime go back: {back}")
    assert not problems, "\n".join(problems)
    assert get(boto, t, {"id": "doc"}) == {"id": "doc", "color": "green", "size": 3}
    assert ls_a(mnt, d) == TABLE_DIR_EXTRAS | {"doc.json"}  # no doc.json~, .doc.json.swp or 4913 left
    assert mnt.errors() == ""
