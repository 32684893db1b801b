"""Items as plain JSON: exact round trips, readable errors, reversible file names."""
import base64
import errno
from decimal import Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awsfs import itemjson, names
from awsfs.errors import InputError

# -- strategies for typed DynamoDB values ------------------------------------------------------
numbers = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d.is_zero() or (Decimal("1E-120") < abs(d) < Decimal("1E120") and len(d.normalize(Context(prec=200)).as_tuple().digits) <= 38))
scalars = st.one_of(
    st.text(max_size=20).map(lambda s: {"S": s}),
    numbers.map(lambda d: {"N": str(d)}),
    st.binary(max_size=20).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.sets(st.text(max_size=5), min_size=1, max_size=4).map(lambda s: {"SS": sorted(s)}),
    st.sets(st.integers(-1000, 1000), min_size=1, max_size=4).map(lambda s: {"NS": [str(x) for x in s]}),
    st.sets(st.binary(max_size=5), min_size=1, max_size=3).map(lambda s: {"BS": sorted(s)}),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda l: {"L": l}),
    st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3).map(lambda m: {"M": m}),
), max_leaves=8)
items = st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(items)
def test_any_item_survives_render_and_parse(item):
    assert itemjson.same_item(itemjson.loads(itemjson.dumps(item)), item)


def test_big_numbers_are_exact_both_ways():
    item = {"id": {"S": "a"}, "n": {"N": "12345678901234567890.123456"}, "tiny": {"N": "0.000000000000000000001"}}
    text = itemjson.dumps(item)
    assert b"12345678901234567890.123456" in text
    back = itemjson.loads(text)
    assert back["n"] == {"N": "12345678901234567890.123456"}
    assert Decimal(back["tiny"]["N"]) == Decimal("1E-21")


def test_tagged_forms_are_documented_shapes():
    item = {"id": {"S": "x"}, "b": {"B": b"\x00\xff"}, "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["10", "2"]},
            "m": {"M": {"$ss": {"S": "not a set"}}}}
    import json
    plain = json.loads(itemjson.dumps(item))
    assert plain["b"] == {"$b": base64.b64encode(b"\x00\xff").decode()}
    assert plain["ss"] == {"$ss": ["a", "b"]}
    assert plain["ns"] == {"$ns": [2, 10]}
    assert plain["m"] == {"$m": {"$ss": "not a set"}}


def test_rendering_is_sorted_two_space_with_newline():
    text = itemjson.dumps({"z": {"N": "1"}, "a": {"S": "x"}}).decode()
    assert text == '{\n  "a": "x",\n  "z": 1\n}\n'


@pytest.mark.parametrize("text,err,words", [
    (b'{"id": "a",}', errno.EINVAL, "line 1 column 12"),
    (b'{"id": "a",\n "x": tru}', errno.EINVAL, "line 2"),
    (b'[1, 2]', errno.EINVAL, "JSON object"),
    (b'{"id": "a", "s": {"$ss": []}}', errno.EINVAL, "empty set"),
    (b'{"id": "a", "n": 1.0000000000000000000000000000000000000001}', errno.EINVAL, "significant digits"),
    (b'{"id": "a", "n": NaN}', errno.EINVAL, "NaN"),
    (b'{"id": "a", "b": {"$b": "not base64!"}}', errno.EINVAL, "base64"),
    (b'\xff\xfe', errno.EINVAL, "UTF-8"),
])
def test_bad_input_says_what_and_where(text, err, words):
    with pytest.raises(InputError) as e:
        itemjson.loads(text)
    assert e.value.errno == err
    assert words in str(e.value)


def test_items_over_400_kb_are_efbig():
    with pytest.raises(InputError) as e:
        itemjson.loads(b'{"id": "a", "blob": "' + b"x" * (401 * 1024) + b'"}')
    assert e.value.errno == errno.EFBIG


@given(st.text(min_size=1, max_size=300))
@settings(max_examples=300, deadline=None)
def test_string_key_names_round_trip_and_are_safe(key):
    name = itemjson.key_name({"S": key}, ".json")
    assert "/" not in name and "\x00" not in name and not name.startswith(".")
    assert len(name.encode("utf-8", "surrogateescape")) <= 255
    if names.is_long(name):
        assert itemjson.parse_key_name(name, "S", ".json") is None
    else:
        assert itemjson.parse_key_name(name, "S", ".json") == {"S": key}


@given(numbers)
@settings(max_examples=200, deadline=None)
def test_number_key_names_are_canonical(d):
    name = itemjson.key_name({"N": str(d)}, ".json")
    parsed = itemjson.parse_key_name(name, "N", ".json")
    assert parsed is not None and Decimal(parsed["N"]) == d
    # another spelling of the same number is not a name for it
    assert itemjson.parse_key_name(name.replace(".json", "0.json") if "." in name[:-5] else "+" + name,
                                   "N", ".json") is None


@given(st.binary(min_size=1, max_size=100))
def test_binary_key_names_round_trip(b):
    name = itemjson.key_name({"B": b}, ".json")
    assert itemjson.parse_key_name(name, "B", ".json") == {"B": b}


def test_escaped_names_examples():
    assert itemjson.key_name({"S": "carol/ops"}, ".json") == "carol%2Fops.json"
    assert itemjson.key_name({"S": ".hidden"}, ".json") == "%2Ehidden.json"
    assert itemjson.key_name({"S": "50%"}, ".json") == "50%25.json"
    assert itemjson.key_name({"N": "1.50"}, ".json") == "1.5.json"
    assert itemjson.parse_key_name("carol%2fops.json", "S", ".json") is None  # not canonical
