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
_WIDE = Context(prec=200, Emax=10**6, Emin=-10**6)
numbers = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    # DynamoDB's edges: 38 digits near the top and bottom of the range (28-digit arithmetic rounds them)
    st.builds(lambda digits, exp, neg: Decimal(f"{'-' if neg else ''}{digits}E{exp}"),
              st.integers(1, 10 ** 38 - 1), st.one_of(st.integers(-167, -120), st.integers(80, 88)), st.booleans()),
).filter(lambda d: d.is_zero() or (Decimal("1E-130") <= d.copy_abs() <= Decimal("9.9999999999999999999999999999999999999E+125")
                                   and len(d.normalize(_WIDE).as_tuple().digits) <= 38))
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
    plain_fraction = "." in name[:-5] and "E" not in name
    assert itemjson.parse_key_name(name.replace(".json", "0.json") if plain_fraction else "+" + name,
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


# -- validation as DynamoDB does it (the hostile corpus is tests/test_hostile.py) ---------------------

def test_numbers_at_the_edges_of_the_range_are_exact():
    top = "9.9999999999999999999999999999999999999E+125"
    item = itemjson.loads(f'{{"id": "a", "top": {top}, "neg": -{top}, "low": 1E-130, "int": {"9" * 38}}}'.encode())
    assert item["top"] == {"N": top} and item["neg"] == {"N": "-" + top} and item["low"] == {"N": "1E-130"}
    assert item["int"] == {"N": "9" * 38}
    assert itemjson.loads(itemjson.dumps(item)) == item  # saved back after an edit: nothing rounds


@pytest.mark.parametrize("text,words", [
    (b'{"id": "a", "n": 1e999999999}', "too large"),
    (b'{"id": "a", "n": 1E+126}', "too large"),
    (b'{"id": "a", "n": 1E-131}', "too small"),
    (b'{"id": "a", "n": 12345678901234567890123456789012345678.9}', "39 significant digits"),
    (b'{"id": "a", "n": 1, "n": 2}', "'n' appears twice in one object at line 1 column 21"),
    (b'{"id": "a", "s": "\\ud800"}', "lone surrogate"),
    (b'{"id": "a", "x": ' + b"[" * 100000, "nested deeper than DynamoDB's 32 levels"),
    (b'{"id": "a", "x": ' + b"[" * 32 + b"1" + b"]" * 32 + b"}", "]: nested deeper than"),
])
def test_hostile_input_is_einval_not_an_internal_error(text, words):
    with pytest.raises(InputError) as e:
        itemjson.loads(text)
    assert e.value.errno == errno.EINVAL and words in str(e.value)


def test_32_levels_counting_the_item():
    ok = b'{"id": "a", "x": ' + b"[" * 31 + b"1" + b"]" * 31 + b"}"
    assert itemjson.loads(ok)["id"] == {"S": "a"}


def test_text_limit_fits_the_longest_rendering_of_an_item():
    # the worst case of dumps(): 31 levels of indentation before every one-byte value
    v = {"L": [{"BOOL": False}] * 2000}
    for _ in range(30):
        v = {"L": [v]}
    text = itemjson.dumps({"x": v})
    per_byte = len(text) / itemjson.item_size({"x": v})
    assert per_byte * itemjson.ITEM_MAX < itemjson.TEXT_MAX
    with pytest.raises(InputError) as e:
        itemjson.loads(b" " * (itemjson.TEXT_MAX + 1))
    assert e.value.errno == errno.EFBIG


def test_an_item_whose_only_attribute_is_named_like_a_tag_round_trips():
    for tag in itemjson.TAGS:
        for av in ({"S": "x"}, {"M": {"a": {"N": "1"}, "b": {"N": "2"}}}, {"M": {"$ss": {"S": "y"}}}):
            item = {tag: av}
            assert itemjson.same_item(itemjson.loads(itemjson.dumps(item)), item), (tag, av)


def test_loads_takes_text_too():
    assert itemjson.loads('{"id": "é"}') == {"id": {"S": "é"}}
    with pytest.raises(InputError):
        itemjson.loads('{"id": "\ud800"}')


@pytest.mark.parametrize("item,schema,words", [
    ({"id": {"S": ""}}, [("id", "S")], "cannot be empty"),
    ({"id": {"B": b""}}, [("id", "B")], "cannot be empty"),
    ({"id": {"S": "k" * 2049}}, [("id", "S")], "2048"),
    ({"pk": {"S": "a"}, "sk": {"S": "s" * 1025}}, [("pk", "S"), ("sk", "S")], "1024"),
])
def test_key_values_dynamodb_refuses(item, schema, words):
    with pytest.raises(InputError) as e:
        itemjson.key_of(item, schema)
    assert e.value.errno == errno.EINVAL and words in str(e.value)
    assert itemjson.key_of({"id": {"S": "k" * 2048}}, [("id", "S")])


@pytest.mark.parametrize("name", ["1E+999999999.json", "1e99999999999999999999.json", "NaN.json", "sNaN.json",
                                  "Infinity.json", "-0.json", "1_0.json", "\udcff.json", "%FF.json"])
def test_odd_file_names_never_raise(name):
    for typ in "SNB":
        av = itemjson.parse_key_name(name, typ, ".json")
        if av is not None:
            assert itemjson.key_name(av, ".json") == name
            itemjson.storable_key(av)
    assert not itemjson.storable_key({"N": "1E+999999999"})
    assert itemjson.parse_key_name("\udcff.json", "S", ".json") is None  # not UTF-8: no DynamoDB key
