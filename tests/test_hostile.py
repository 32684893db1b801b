"""Hostile item contents: every one is either an item DynamoDB accepts, or an InputError (EINVAL or
EFBIG) with a one-line reason a person can act on — never another exception (which the FUSE
boundary would turn into EIO "internal error").

The corpus is built by code below (deterministic, no randomness). Cases per category, and what
DynamoDB does with them (the expectation of each case is in its id: ``ok`` or the errno):

==============  =====  ==========================================================================
category        cases  DynamoDB's answer, and so ours
==============  =====  ==========================================================================
truncated          45  every cut of a valid item's text before its closing brace: invalid JSON
                       (a cut inside a multi-byte character: not UTF-8) -> EINVAL
toplevel           16  anything but an object of attributes (arrays, scalars, a bare tagged value)
                       -> EINVAL; ``{"$m": {..}}`` (dumps' form of an item with one attribute
                       named like a tag) and ``{}`` parse (the key check is ``key_of``'s)
nesting            34  the item is level 1 and DynamoDB allows 32 (an attribute's value holds 31
                       maps/lists: AWS accepts 31 map wraps, refuses 32): levels 31 and 32 accepted
                       for lists, maps, mixed, ``$m`` and a set at the bottom; 33, 100, 500 and
                       100000 -> EINVAL, unclosed or not; brackets inside strings do not count
duplicates         20  a name twice in one object (any depth, after escapes are decoded, also the
                       tags) -> EINVAL with line and column; names differing in case, Unicode
                       normalisation or spaces are distinct and accepted
numbers            97  38 significant digits accepted, 39 refused (leading/trailing zeros do not
                       count); magnitude 1E-130 .. 9.9999999999999999999999999999999999999E+125
                       accepted, one step beyond refused; absurd exponents (1e999999999) refused
                       cheaply; every zero is 0 (-0 too); NaN/Infinity and JSON-invalid spellings
                       (+1, .5, 01, 0x1F) -> EINVAL; duplicates in a number set by value
strings            47  lone or reversed surrogates (values, names, map keys, set members, str
                       input) have no UTF-8 form -> EINVAL; valid pairs, escaped control
                       characters (NUL included), DEL, C1, noncharacters accepted; raw control
                       characters inside a JSON string and bad escapes are invalid JSON -> EINVAL
utf8               19  bytes that are not UTF-8 (overlong, encoded surrogates, > U+10FFFF,
                       truncated, Latin-1, UTF-16/32) -> EINVAL, with the byte position
sizes              17  400 KB (names + values) accepted, one byte more -> EFBIG; text beyond
                       TEXT_MAX refused before parsing -> EFBIG; texts over 400 KB of a small
                       item (base64, indentation, escapes) accepted; names up to 65535 bytes
sets               26  empty sets and duplicates (by value for numbers, by bytes for binary)
                       -> EINVAL, at any depth; members of the wrong type -> EINVAL; empty strings
                       and empty binary inside a set accepted
tags               28  ``$b`` needs padded base64 text, ``$ss``/``$ns``/``$bs`` a list, ``$m`` an
                       object -> else EINVAL; tag-like names that are not exactly a tag alone in
                       an object (``$B``, ``$x``, a tag with a second key) are plain maps
syntax             30  BOM, trailing garbage, comments, trailing commas, single quotes, bare names,
                       non-JSON whitespace (form feed, NBSP), empty input -> EINVAL; CRLF, tabs
                       and surrounding whitespace accepted
names               8  attribute names: not empty, at most 65535 bytes, any other UTF-8 (``/``,
                       newline, NUL) accepted
keys               22  through ``key_of``: missing, wrong type, empty string or binary -> EINVAL;
                       partition keys up to 2048 bytes and sort keys up to 1024 accepted, one more
                       -> EINVAL
total             409
==============  =====  ==========================================================================

A few of these also go through the filesystem (no mount, moto): the save fails at close with the
errno, the errors file says why, and the item in AWS is unchanged.
"""
from __future__ import annotations

import base64
import errno
import json
import os
import re
from typing import NamedTuple, Optional, Union

import botocore.session
import pytest
from botocore.serialize import create_serializer

from awsfs import itemjson
from awsfs.errors import FsError, InputError
from helpers import make_table, read

OK = "ok"
EDGE = "9.9999999999999999999999999999999999999E+125"  # DynamoDB's largest number
D38 = "1234567890123456789012345678901234567"  # 37 digits
ITEM_MAX, TEXT_MAX = itemjson.ITEM_MAX, itemjson.TEXT_MAX


class Case(NamedTuple):
    category: str
    name: str
    data: Union[bytes, str]
    expect: object  # OK, errno.EINVAL or errno.EFBIG
    words: str = ""  # expected in the reason
    schema: Optional[list] = None  # also check key_of(item, schema)


def J(**attrs) -> bytes:
    """An item text from raw JSON value texts: J(n="1") -> {"id": "a", "n": 1}."""
    return ("{" + ", ".join(['"id": "a"'] + [f"{json.dumps(k)}: {v}" for k, v in attrs.items()]) + "}").encode()


# -- the corpus ---------------------------------------------------------------------------------

SAMPLE = itemjson.dumps({
    "id": {"S": "a/b"}, "n": {"N": "-12.5"}, "b": {"B": b"\x00\xff"}, "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"1"]}, "l": {"L": [{"NULL": True}, {"BOOL": False}]},
    "m": {"M": {"k": {"S": "v"}}}, "u": {"S": "é😀"}})


def truncated() -> list[Case]:
    end = SAMPLE.rindex(b"}")
    cuts = sorted(set(range(0, end, max(1, end // 44))) | {end - 1})
    return [Case("truncated", f"cut-at-{n}", SAMPLE[:n], errno.EINVAL) for n in cuts][:45]


def toplevel() -> list[Case]:
    bad = {"array": "[]", "array-of-item": '[{"id": "a"}]', "number": "1", "string": '"a"', "null": "null",
           "true": "true", "false": "false", "bare-b": '{"$b": "AA=="}', "bare-ss": '{"$ss": ["a"]}',
           "bare-ns": '{"$ns": [1]}', "bare-bs": '{"$bs": ["AA=="]}', "m-not-object": '{"$m": 1}',
           "m-list": '{"$m": [{"id": "a"}]}', "nested-array": "[[{}]]"}
    out = [Case("toplevel", k, v.encode(), errno.EINVAL, "JSON object" if k != "m-not-object" else "") for k, v in bad.items()]
    out.append(Case("toplevel", "m-wrapped-item", b'{"$m": {"id": "a", "n": 1}}', OK))
    out.append(Case("toplevel", "empty-object", b"{}", OK))
    return out


def nesting() -> list[Case]:
    out = []

    def lists(levels: int, leaf: str = "1") -> bytes:  # the item is level 1
        return b'{"id": "a", "x": ' + b"[" * (levels - 1) + leaf.encode() + b"]" * (levels - 1) + b"}"

    def maps(levels: int) -> bytes:
        return b'{"id": "a", "x": ' + b'{"k": ' * (levels - 1) + b"1" + b"}" * (levels - 1) + b"}"

    def mixed(levels: int) -> bytes:
        opens = "".join('[' if i % 2 else '{"k": ' for i in range(levels - 1))
        closes = "".join(']' if i % 2 else '}' for i in reversed(range(levels - 1)))
        return f'{{"id": "a", "x": {opens}1{closes}}}'.encode()

    def tagged(levels: int) -> bytes:  # maps whose only key is "$m": each {"$m": {"$m": ..}} is one level
        return b'{"id": "a", "x": ' + b'{"$m": {"$m": ' * (levels - 1) + b"1" + b"}}" * (levels - 1) + b"}"

    for levels in (31, 32, 33, 100, 500, 100000):
        expect = OK if levels <= 32 else errno.EINVAL
        words = "" if expect == OK else "nested deeper than DynamoDB's 32 levels"
        out.append(Case("nesting", f"lists-{levels}", lists(levels), expect, words))
        out.append(Case("nesting", f"maps-{levels}", maps(levels), expect, words))
        if levels <= 500:
            out.append(Case("nesting", f"mixed-{levels}", mixed(levels), expect, words))
            out.append(Case("nesting", f"dollar-m-{levels}", tagged(levels), expect, words))
    for levels in (32, 33):
        expect = OK if levels <= 32 else errno.EINVAL
        out.append(Case("nesting", f"set-at-bottom-{levels}", lists(levels, '{"$ss": ["a"]}'), expect))
        out.append(Case("nesting", f"empty-list-at-bottom-{levels}", lists(levels - 1, "[]"), expect))
        out.append(Case("nesting", f"binary-at-bottom-{levels}", lists(levels, '{"$b": "AA=="}'), expect))
    out += [
        Case("nesting", "unclosed-33", b'{"id": "a", "x": ' + b"[" * 33, errno.EINVAL),
        Case("nesting", "unclosed-100000", b'{"id": "a", "x": ' + b"[" * 100000, errno.EINVAL, "nested deeper"),
        Case("nesting", "unclosed-maps-100000", b'{"id": "a", "x": ' + b'{"a": ' * 100000, errno.EINVAL, "nested deeper"),
        Case("nesting", "bare-100000", b"[" * 100000 + b"]" * 100000, errno.EINVAL),
        Case("nesting", "brackets-in-string", J(s=json.dumps("[{" * 100000)), OK),
        Case("nesting", "wide-not-deep", J(x="[" + ",".join(["[[1]]"] * 2000) + "]"), OK),
    ]
    return out


def duplicates() -> list[Case]:
    def deep(levels: int, inner: str) -> bytes:
        return b'{"id": "a", "x": ' + b'{"k": ' * (levels - 2) + inner.encode() + b"}" * (levels - 2) + b"}"
    dup = "appears twice"
    out = [
        Case("duplicates", "top", b'{"id": "a", "n": 1, "n": 2}', errno.EINVAL, "'n' appears twice in one object at line 1 column 21"),
        Case("duplicates", "key-attribute", b'{"id": "a", "id": "b"}', errno.EINVAL, dup),
        Case("duplicates", "same-value", b'{"id": "a", "n": 1, "n": 1}', errno.EINVAL, dup),
        Case("duplicates", "three-times", b'{"id": "a", "n": 1, "n": 2, "n": 3}', errno.EINVAL, dup),
        Case("duplicates", "multiline", b'{\n  "id": "a",\n  "n": 1,\n  "n": 2\n}\n', errno.EINVAL, "line 4 column 3"),
        Case("duplicates", "escaped-same-name", b'{"id": "a", "a": 1, "\\u0061": 2}', errno.EINVAL, dup),
        Case("duplicates", "in-list", J(l='[{"k": 1, "k": 2}]'), errno.EINVAL, dup),
        Case("duplicates", "in-dollar-m", J(m='{"$m": {"$b": 1, "$b": 2}}'), errno.EINVAL, dup),
        Case("duplicates", "tag-twice", J(s='{"$ss": ["a"], "$ss": ["b"]}'), errno.EINVAL, dup),
        Case("duplicates", "empty-name", b'{"id": "a", "": 1, "": 2}', errno.EINVAL, dup),
        Case("duplicates", "newline-name", b'{"id": "a", "a\\nb": 1, "a\\nb": 2}', errno.EINVAL, "a\\nb"),
        Case("duplicates", "long-name", ('{"id": "a", "' + "x" * 5000 + '": 1, "' + "x" * 5000 + '": 2}').encode(),
             errno.EINVAL, dup),
        Case("duplicates", "case-differs", b'{"id": "a", "a": 1, "A": 2}', OK),
        Case("duplicates", "nfc-nfd-differ", '{"id": "a", "\u00e9": 1, "e\u0301": 2}'.encode(), OK),
        Case("duplicates", "space-differs", b'{"id": "a", "a": 1, "a ": 2}', OK),
        Case("duplicates", "same-name-other-objects", J(x='{"k": 1}', y='{"k": 1}'), OK),
    ]
    for levels in (2, 5, 31, 32):
        out.append(Case("duplicates", f"at-level-{levels}", deep(levels, '{"d": 1, "d": 2}'), errno.EINVAL, dup))
    return out


def numbers() -> list[Case]:
    E = errno.EINVAL
    cases = {
        # significant digits
        "digits-1": ("7", OK), "digits-37": (D38, OK), "digits-38": (D38 + "8", OK),
        "digits-38-negative": ("-" + D38 + "8", OK), "digits-38-fraction": ("0." + D38 + "8", OK),
        "digits-39": (D38 + "89", E), "digits-40": (D38 + "890", E), "digits-39-fraction": ("1." + D38 + "8", E),
        "digits-39-negative": ("-" + D38 + "89", E), "digits-100": ("1" * 100, E), "digits-10000": ("3" * 10000, E),
        "digits-41-test": ("1.0000000000000000000000000000000000000001", E),
        "digits-38-trailing-zeros": (D38 + "8" + "0" * 50, OK), "digits-38-fraction-zeros": (D38 + "8." + "0" * 50, OK),
        "digits-38-leading-zeros": ("0.000000" + D38 + "8", OK), "digits-39-with-zero-inside": (D38 + "08", E),
        "one-with-100-zeros": ("1." + "0" * 100, OK), "ten-to-100": ("1" + "0" * 100, OK),
        "ten-to-125": ("1" + "0" * 125, OK), "ten-to-126": ("1" + "0" * 126, E),
        # range edges
        "edge-max": (EDGE, OK), "edge-max-negative": ("-" + EDGE, OK), "edge-max-lowercase": (EDGE.lower(), OK),
        "edge-max-integer-form": ("9" * 38 + "E+88", OK), "beyond-max-integer-form": ("9" * 38 + "E+89", E),
        "edge-max-39-digits": ("9.99999999999999999999999999999999999999E+125", E),
        "1E+125": ("1E+125", OK), "1E+126": ("1E+126", E), "-1E+126": ("-1E+126", E), "10E+125": ("10E+125", E),
        "edge-max-plain": ("9" * 38 + "0" * 88, OK), "beyond-max-plain": ("1" + "0" * 126, E),
        "edge-min": ("1E-130", OK), "edge-min-negative": ("-1E-130", OK), "edge-min-0.1E-129": ("0.1E-129", OK),
        "edge-min-10E-131": ("10E-131", OK), "edge-min-1.5E-130": ("1.5E-130", OK),
        "edge-min-plain": ("0." + "0" * 129 + "1", OK), "beyond-min-plain": ("0." + "0" * 130 + "1", E),
        "1E-131": ("1E-131", E), "-1E-131": ("-1E-131", E), "9E-131": ("9E-131", E),
        "edge-min-38-digits": ("1." + "0" * 36 + "1E-130", OK),
        "exponent-leading-zeros": ("1E+0125", OK), "exponent-many-leading-zeros": ("1e" + "0" * 30 + "1", OK),
        "exponent-negative-leading-zeros": ("1e-" + "0" * 30 + "130", OK),
        # absurd exponents: refused before any Decimal work
        "1e999999999": ("1e999999999", E), "1e-999999999": ("1e-999999999", E),
        "-1e999999999": ("-1e999999999", E), "1e99999999999999999999": ("1e99999999999999999999", E),
        "1e-99999999999999999999": ("1e-99999999999999999999", E), "1E+2147483647": ("1E+2147483647", E),
        "1E+2147483648": ("1E+2147483648", E), "1E+9223372036854775808": ("1E+9223372036854775808", E),
        "exponent-5000-digits": ("1e" + "9" * 5000, E), "exponent-5000-digits-negative": ("1e-" + "9" * 5000, E),
        "1000000-zeros": ("1" + "0" * 1_000_000, E), "fraction-1000000-zeros": ("0." + "0" * 1_000_000 + "1", E),
        "1e1000": ("1e1000", E), "1e-1000": ("1e-1000", E),
        # zeros
        "zero": ("0", OK), "minus-zero": ("-0", OK), "zero-point-zero": ("0.0", OK), "minus-zero-fraction": ("-0.0", OK),
        "zero-exponent": ("0e0", OK), "zero-big-exponent": ("0e999999999999999999", OK),
        "zero-small-exponent": ("-0.000e-99999999999999", OK), "zero-many-digits": ("0." + "0" * 10000, OK),
        # not numbers DynamoDB stores, or not JSON
        "NaN": ("NaN", E), "Infinity": ("Infinity", E), "-Infinity": ("-Infinity", E), "nan": ("nan", E),
        "inf": ("inf", E), "plus-one": ("+1", E), "leading-dot": (".5", E), "trailing-dot": ("1.", E),
        "leading-zero": ("01", E), "hex": ("0x1F", E), "underscore": ("1_000", E), "fullwidth": ("１", E),
        "comma-decimal": ("1,5", E), "double-minus": ("--1", E), "bare-minus": ("-", E), "bare-e": ("1e", E),
        "e-sign-only": ("1e+", E), "two-dots": ("1.2.3", E),
        # in containers
        "in-list-too-big": ("[1, 1e999999999]", E), "in-map-too-small": ('{"k": 1E-131}', E),
        "NaN-in-list": ("[NaN]", E), "edge-in-list": (f"[{EDGE}, -{EDGE}, 1E-130]", OK),
    }
    out = [Case("numbers", k, J(n=v), e) for k, (v, e) in cases.items()]
    words = {"digits-39": "significant digits", "1E+126": "too large", "1E-131": "too small",
             "1e999999999": "too large", "1e-999999999": "too small", "NaN": "NaN", "Infinity": "Infinity",
             "exponent-5000-digits": "too large", "digits-10000": "significant digits"}
    out = [c._replace(words=words.get(c.name, "")) for c in out]
    out += [
        Case("numbers", "set-dup-1-1.0", J(s='{"$ns": [1, 1.0]}'), E, "duplicates"),
        Case("numbers", "set-dup-1-10E-1", J(s='{"$ns": [1, 10E-1]}'), E, "duplicates"),
        Case("numbers", "set-dup-zero-minus-zero", J(s='{"$ns": [0, -0]}'), E, "duplicates"),
        Case("numbers", "set-too-big", J(s='{"$ns": [1e999999999]}'), E, "too large"),
        Case("numbers", "set-NaN", J(s='{"$ns": [NaN]}'), E, "NaN"),
        Case("numbers", "set-39-digits", J(s=f'{{"$ns": [{D38}89]}}'), E, "significant digits"),
        Case("numbers", "set-edges", J(s=f'{{"$ns": [1E-130, {EDGE}, -{EDGE}, 0]}}'), OK),
    ]
    return out


def strings() -> list[Case]:
    E = errno.EINVAL
    sur = "lone surrogate"
    out = [Case("strings", f"lone-{n}", J(s=f'"{s}"'), E, sur) for n, s in [
        ("high", "\\ud800"), ("high-last", "\\udbff"), ("low", "\\udc00"), ("low-last", "\\udfff"),
        ("inside", "a\\ud800b"), ("reversed-pair", "\\udc00\\ud800"), ("two-highs", "\\ud800\\ud800"),
        ("split-pair", "\\ud800 \\udc00"), ("at-end-of-long", "x" * 10000 + "\\ud83d"), ("uppercase-hex", "\\uD800")]]
    out += [
        Case("strings", "lone-in-name", b'{"id": "a", "\\ud800": 1}', E, sur),
        Case("strings", "lone-in-map-key", J(m='{"k\\udc00": 1}'), E, sur),
        Case("strings", "lone-in-set", J(s='{"$ss": ["a", "\\ud800"]}'), E, sur),
        Case("strings", "lone-in-list", J(l='["ok", "\\ud800"]'), E, sur),
        Case("strings", "lone-in-dollar-m-key", J(m='{"$m": {"\\ud800": 1}}'), E, sur),
        Case("strings", "lone-in-key-value", b'{"id": "\\ud800"}', E, sur),
        Case("strings", "str-input-lone-surrogate", '{"id": "a", "s": "\ud800"}', E, sur),
        Case("strings", "str-input-valid", '{"id": "a", "s": "\u00e9\U0001f600"}', OK),
        Case("strings", "pair", J(s='"\\ud83d\\ude00"'), OK), Case("strings", "pair-uppercase", J(s='"\\uD83D\\uDE00"'), OK),
        Case("strings", "max-code-point", J(s='"\\udbff\\udfff"'), OK), Case("strings", "raw-emoji", J(s='"😀"'), OK),
        Case("strings", "escaped-backslash-then-u", J(s='"\\\\ud800"'), OK),
        Case("strings", "all-controls-escaped", J(s=json.dumps("".join(map(chr, range(32))))), OK),
        Case("strings", "controls-in-name", b'{"id": "a", "a\\u0000b\\nc\\td": 1}', OK),
        Case("strings", "raw-del", J(s='"a\x7fb"'), OK), Case("strings", "raw-c1", J(s='"a\u0085\u009fb"'), OK),
        Case("strings", "noncharacters", J(s='"\ufffe\uffff\U0010ffff"'), OK),
        Case("strings", "bom-inside-string", J(s='"\ufeff"'), OK), Case("strings", "line-separator", J(s='"\u2028\u2029"'), OK),
        Case("strings", "empty-value", J(s='""'), OK), Case("strings", "empty-in-list", J(l='["", ""]'), OK),
        Case("strings", "bad-escape-x", J(s='"\\x41"'), E, "line 1"), Case("strings", "short-u-escape", J(s='"\\u12"'), E, "line 1"),
        Case("strings", "bad-hex-u-escape", J(s='"\\u12G4"'), E, "line 1"), Case("strings", "escaped-quote-single", J(s='"\\\'"'), E),
        Case("strings", "unterminated", b'{"id": "a", "s": "abc}', E, "line 1"),
    ]
    for c in ("\x00", "\x01", "\t", "\n", "\r", "\x1f"):
        out.append(Case("strings", f"raw-control-{ord(c):02x}", J(s=f'"a{c}b"'), E, "Invalid control character"))
    for c in ("\\u0000", "\\b", "\\f", "\\u001b"):
        out.append(Case("strings", f"escaped-{c[1:]}", J(s=f'"{c}"'), OK))
    return out


def utf8() -> list[Case]:
    seqs = {"ff": b"\xff", "fe-ff": b"\xfe\xff", "lone-continuation": b"\x80", "overlong-nul": b"\xc0\x80",
            "overlong-c1": b"\xc1\xbf", "overlong-3": b"\xe0\x80\x80", "encoded-surrogate": b"\xed\xa0\x80",
            "encoded-low-surrogate": b"\xed\xbf\xbf", "beyond-10ffff": b"\xf4\x90\x80\x80", "f5": b"\xf5\x80\x80\x80",
            "five-byte": b"\xf8\x88\x80\x80\x80", "truncated-3": b"\xe2\x82", "bad-continuation": b"\xe2\x28\xa1",
            "latin1": b"caf\xe9"}
    out = [Case("utf8", f"in-value-{k}", b'{"id": "a", "s": "' + v + b'"}', errno.EINVAL, "UTF-8") for k, v in seqs.items()]
    out += [
        Case("utf8", "in-name", b'{"id": "a", "\xff": 1}', errno.EINVAL, "UTF-8"),
        Case("utf8", "in-whitespace", b'{"id": "a",\n\xa0"s": 1}', errno.EINVAL, "line 2 column 1"),
        Case("utf8", "utf16le-with-bom", '{"id": "a"}'.encode("utf-16"), errno.EINVAL, "UTF-8"),
        Case("utf8", "utf16be", '{"id": "a"}'.encode("utf-16-be"), errno.EINVAL),
        Case("utf8", "utf32", '{"id": "a"}'.encode("utf-32"), errno.EINVAL, "UTF-8"),
    ]
    return out


def sizes() -> list[Case]:
    fill = ITEM_MAX - len("id") - len("a") - len("s")  # {"id": "a", "s": "x..."} is exactly 400 KB
    big_b = base64.b64encode(b"\x01" * 300 * 1024).decode()
    out = [
        Case("sizes", "exactly-400KB", J(s='"' + "x" * fill + '"'), OK),
        Case("sizes", "400KB-minus-1", J(s='"' + "x" * (fill - 1) + '"'), OK),
        Case("sizes", "400KB-plus-1", J(s='"' + "x" * (fill + 1) + '"'), errno.EFBIG, "DynamoDB items are at most"),
        Case("sizes", "400KB-plus-1-multibyte", J(s='"' + "é" * ((fill + 1) // 2) + "x" * ((fill + 1) % 2) + '"'),
             errno.EFBIG),
        Case("sizes", "many-attributes-over", ("{" + '"id": "a", ' + ", ".join(f'"a{i:05}": "{"y" * 94}"' for i in range(4100))
                                              + "}").encode(), errno.EFBIG),
        Case("sizes", "list-of-nulls-over", J(l="[" + ",".join(["null"] * 205000) + "]"), errno.EFBIG),
        Case("sizes", "nested-over", J(m='{"k": {"k": ["' + "z" * ITEM_MAX + '"]}}'), errno.EFBIG),
        Case("sizes", "binary-300KB-text-400KB-plus", J(b=f'{{"$b": "{big_b}"}}'), OK),
        Case("sizes", "binary-over", J(b='{"$b": "' + base64.b64encode(b"\x02" * (ITEM_MAX)).decode() + '"}'), errno.EFBIG),
        Case("sizes", "escapes-600KB-text-100KB-item", J(s='"' + "\\u0001" * 100_000 + '"'), OK),
        Case("sizes", "whitespace-1MB", b'{"id": "a"}' + b" " * 1_000_000, OK),
        Case("sizes", "text-over-TEXT_MAX", b" " * (TEXT_MAX + 1), errno.EFBIG, "JSON text is at most"),
        Case("sizes", "item-then-text-over-TEXT_MAX", b'{"id": "a"}' + b"\n" * TEXT_MAX, errno.EFBIG),
        Case("sizes", "str-over-TEXT_MAX", " " * (TEXT_MAX + 1), errno.EFBIG),
        Case("sizes", "garbage-over-TEXT_MAX", b"\xff" * (TEXT_MAX + 1), errno.EFBIG),
        Case("sizes", "name-65535-bytes", ('{"id": "a", "' + "n" * 65535 + '": 1}').encode(), OK),
        Case("sizes", "name-65536-bytes", ('{"id": "a", "' + "é" * 32768 + '": 1}').encode(), errno.EINVAL, "65535"),
    ]
    return out


def sets() -> list[Case]:
    E = errno.EINVAL
    out = []
    for tag in ("$ss", "$ns", "$bs"):
        out.append(Case("sets", f"empty-{tag[1:]}", J(s=f'{{"{tag}": []}}'), E, "empty set"))
    out += [
        Case("sets", "empty-in-list", J(l='[{"$ss": []}]'), E, "empty set"),
        Case("sets", "empty-in-map", J(m='{"k": {"k": {"$ns": []}}}'), E, "empty set"),
        Case("sets", "dup-ss", J(s='{"$ss": ["a", "a"]}'), E, "duplicates"),
        Case("sets", "dup-ss-escaped", J(s='{"$ss": ["a", "\\u0061"]}'), E, "duplicates"),
        Case("sets", "dup-ss-empty", J(s='{"$ss": ["", ""]}'), E, "duplicates"),
        Case("sets", "dup-bs", J(s='{"$bs": ["AA==", "AA=="]}'), E, "duplicates"),
        Case("sets", "dup-bs-same-bytes", J(s='{"$bs": ["YQ==", "YR=="]}'), E),
        Case("sets", "dup-ns-1.00-1E0", J(s='{"$ns": [1.00, 1E0]}'), E, "duplicates"),
        Case("sets", "dup-in-list", J(l='[{"$ss": ["b", "b"]}]'), E, "duplicates"),
        Case("sets", "ss-number", J(s='{"$ss": ["a", 1]}'), E, "$ss must hold strings"),
        Case("sets", "ss-null", J(s='{"$ss": [null]}'), E), Case("sets", "ss-nested-list", J(s='{"$ss": [["a"]]}'), E),
        Case("sets", "ss-NaN", J(s='{"$ss": [NaN]}'), E),
        Case("sets", "ns-string", J(s='{"$ns": ["1"]}'), E, "$ns must hold numbers"),
        Case("sets", "ns-bool", J(s='{"$ns": [true]}'), E), Case("sets", "ns-nested", J(s='{"$ns": [[1]]}'), E),
        Case("sets", "bs-number", J(s='{"$bs": [1]}'), E, "base64"), Case("sets", "bs-bad-base64", J(s='{"$bs": ["!!!!"]}'), E, "base64"),
        Case("sets", "ss-with-empty-string", J(s='{"$ss": ["", "a"]}'), OK),
        Case("sets", "bs-with-empty-binary", J(s='{"$bs": [""]}'), OK),
        Case("sets", "ss-one", J(s='{"$ss": ["only"]}'), OK),
        Case("sets", "ss-thousand", J(s=json.dumps({"$ss": [f"v{i}" for i in range(1000)]})), OK),
        Case("sets", "ns-distinct-close", J(s=f'{{"$ns": [{D38}8, {D38}9]}}'), OK),
    ]
    return out


def tags() -> list[Case]:
    E = errno.EINVAL
    out = [Case("tags", f"b-{n}", J(b=f'{{"$b": {v}}}'), E, w) for n, v, w in [
        ("number", "1", "base64"), ("true", "true", "base64"), ("null", "null", "base64"), ("list", '["AA=="]', "base64"),
        ("object", '{"x": 1}', "base64"), ("not-base64", '"not base64!"', "base64"), ("space", '"YWJj ZA=="', "base64"),
        ("missing-padding", '"YWJjZA"', "base64"), ("non-ascii", '"YWJj\u00e9A=="', "base64"),
        ("url-safe-alphabet", '"-_-_"', "base64"), ("newline", '"YWJj\\nZA=="', "base64"), ("NaN", "NaN", "base64")]]
    out += [Case("tags", f"{t[1:]}-{n}", J(s=f'{{"{t}": {v}}}'), E, "must hold a list") for t, n, v in [
        ("$ss", "string", '"a"'), ("$ss", "object", '{"a": 1}'), ("$ns", "number", "1"), ("$bs", "string", '"AA=="')]]
    out += [
        Case("tags", "m-number", J(m='{"$m": 1}'), E, "$m must hold an object"),
        Case("tags", "m-list", J(m='{"$m": []}'), E, "$m must hold an object"),
        Case("tags", "b-empty", J(b='{"$b": ""}'), OK),
        Case("tags", "b-valid", J(b='{"$b": "AP8="}'), OK),
        Case("tags", "uppercase-tag-is-map", J(m='{"$B": "AA=="}'), OK),
        Case("tags", "unknown-tag-is-map", J(m='{"$x": 1}'), OK),
        Case("tags", "dollar-alone-is-map", J(m='{"$": 1}'), OK),
        Case("tags", "tag-with-second-key-is-map", J(m='{"$ss": ["a"], "other": 1}'), OK),
        Case("tags", "two-tags-is-map", J(m='{"$b": "AA==", "$ss": 1}'), OK),
        Case("tags", "m-holding-tag-name", J(m='{"$m": {"$ss": "not a set"}}'), OK),
        Case("tags", "m-empty", J(m='{"$m": {}}'), OK),
        Case("tags", "m-m", J(m='{"$m": {"$m": {"$m": {"x": 1}}}}'), OK),
    ]
    return out


def syntax() -> list[Case]:
    E = errno.EINVAL
    item = b'{"id": "a", "n": 1}'
    out = [Case("syntax", n, d, E, w) for n, d, w in [
        ("utf8-bom", b"\xef\xbb\xbf" + item, "BOM"), ("bom-after-space", b" \xef\xbb\xbf" + item, "line 1"),
        ("trailing-word", item + b" x", "Extra data"), ("two-objects", item + item, "Extra data"),
        ("json-lines", item + b"\n" + item + b"\n", "line 2 column 1"), ("trailing-comma-after", item + b",", "Extra data"),
        ("line-comment", item + b" // note", "Extra data"), ("block-comment", b'{"id": "a", /* c */ "n": 1}', "line 1"),
        ("hash-comment", b'# item\n' + item, "line 1 column 1"), ("trailing-comma-object", b'{"id": "a", "n": 1,}', "line 1"),
        ("trailing-comma-list", b'{"id": "a", "l": [1,]}', "line 1"), ("single-quotes", b"{'id': 'a'}", "line 1"),
        ("bare-names", b'{id: "a"}', "line 1"), ("missing-colon", b'{"id" "a"}', "line 1"),
        ("missing-comma", b'{"id": "a" "n": 1}', "line 1"), ("nul-after", item + b"\x00", "Extra data"),
        ("nul-before", b"\x00" + item, "line 1"), ("empty", b"", "line 1 column 1"), ("only-whitespace", b" \n\t\r\n", "line 3"),
        ("only-open", b"{", "line 1"), ("only-close", b"}", "line 1"), ("extra-close", item + b"}", "Extra data"),
        ("form-feed-whitespace", b'{"id":\x0c"a"}', "line 1"), ("nbsp-whitespace", '{"id":\u00a0"a"}'.encode(), "line 1"),
        ("ideographic-space", '{"id":\u3000"a"}'.encode(), "line 1"), ("vertical-tab", b'{"id":\x0b"a"}', "line 1")]]
    out += [
        Case("syntax", "crlf", b'{\r\n  "id": "a",\r\n  "n": 1\r\n}\r\n', OK),
        Case("syntax", "tabs", b'{\t"id":\t"a"}', OK),
        Case("syntax", "surrounding-whitespace", b"\n\n   " + item + b"   \n\n", OK),
        Case("syntax", "escaped-slash", b'{"id": "a\\/b"}', OK),
    ]
    return out


def names() -> list[Case]:
    return [
        Case("names", "empty", b'{"id": "a", "": 1}', errno.EINVAL, "cannot be empty"),
        Case("names", "65536-bytes", ('{"id": "a", "' + "x" * 65536 + '": 1}').encode(), errno.EINVAL, "65535"),
        Case("names", "slash", b'{"id": "a", "a/b": 1}', OK),
        Case("names", "dot", b'{"id": "a", ".": 1}', OK),
        Case("names", "space", b'{"id": "a", " ": 1}', OK),
        Case("names", "newline", b'{"id": "a", "\\n": 1}', OK),
        Case("names", "nul", b'{"id": "a", "\\u0000": 1}', OK),
        Case("names", "emoji", '{"id": "a", "😀": 1}'.encode(), OK),
    ]


def keys() -> list[Case]:
    S, N, B = [("id", "S")], [("id", "N")], [("id", "B")]
    SK = [("pk", "S"), ("sk", "S")]
    E = errno.EINVAL
    cases = {
        "missing": (b'{"n": 1}', S, E, "missing"), "empty-object": (b"{}", S, E, "missing"),
        "missing-sort-key": (b'{"pk": "a"}', SK, E, "'sk' is missing"),
        "number-for-string": (b'{"id": 1}', S, E, "type S, not N"), "string-for-number": (b'{"id": "1"}', N, E, "type N"),
        "bool": (b'{"id": true}', S, E, "not BOOL"), "null": (b'{"id": null}', S, E, "not NULL"),
        "map": (b'{"id": {"a": 1}}', S, E, "not M"), "list": (b'{"id": ["a"]}', S, E, "not L"),
        "string-set": (b'{"id": {"$ss": ["a"]}}', S, E, "not SS"),
        "empty-string": (b'{"id": ""}', S, E, "cannot be empty"), "empty-binary": (b'{"id": {"$b": ""}}', B, E, "cannot be empty"),
        "empty-sort-key": (b'{"pk": "a", "sk": ""}', SK, E, "cannot be empty"),
        "partition-2048": (('{"id": "' + "k" * 2048 + '"}').encode(), S, OK, ""),
        "partition-2049": (('{"id": "' + "k" * 2049 + '"}').encode(), S, E, "2048"),
        "partition-2049-multibyte": (('{"id": "' + "é" * 1024 + 'k"}').encode(), S, E, "2048"),
        "partition-binary-2049": (('{"id": {"$b": "' + base64.b64encode(b"k" * 2049).decode() + '"}}').encode(), B, E, "2048"),
        "sort-1024": (('{"pk": "a", "sk": "' + "s" * 1024 + '"}').encode(), SK, OK, ""),
        "sort-1025": (('{"pk": "a", "sk": "' + "s" * 1025 + '"}').encode(), SK, E, "1024"),
        "number-edge": (f'{{"id": {EDGE}}}'.encode(), N, OK, ""), "number-minus-zero": (b'{"id": -0}', N, OK, ""),
        "control-chars": (b'{"id": "\\u0001\\n"}', S, OK, ""),
    }
    return [Case("keys", n, d, e, w, s) for n, (d, s, e, w) in cases.items()]


CATEGORIES = [truncated, toplevel, nesting, duplicates, numbers, strings, utf8, sizes, sets, tags, syntax, names, keys]
CORPUS = [c for make in CATEGORIES for c in make()]


def _id(c: Case) -> str:
    return f"{c.category}-{c.name}-{'ok' if c.expect == OK else errno.errorcode[c.expect]}"


# -- the checks ---------------------------------------------------------------------------------

_SERIALIZER = create_serializer("json")
_PUT = botocore.session.get_session().get_service_model("dynamodb").operation_model("PutItem")


def _all_text(av) -> list[str]:
    """Every string inside a typed value (names included)."""
    (t, v), = av.items()
    if t == "S":
        return [v]
    if t == "SS":
        return list(v)
    if t == "L":
        return [s for x in v for s in _all_text(x)]
    if t == "M":
        return [s for k, x in v.items() for s in [k, *_all_text(x)]]
    return []


def test_corpus_is_large_and_ids_unique():
    ids = [_id(c) for c in CORPUS]
    assert len(ids) >= 250
    assert len(set(ids)) == len(ids)


def test_docstring_counts_match_the_corpus():
    table = dict(re.findall(r"^(\w+)\s+(\d+)\s", __doc__, re.M))
    counts = {make.__name__: len(make()) for make in CATEGORIES}
    assert {k: int(v) for k, v in table.items() if k != "total"} == counts
    assert int(table["total"]) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=_id)
def test_hostile_content(case: Case):
    try:
        item = itemjson.loads(case.data)
        if case.schema is not None:
            itemjson.key_of(item, case.schema)
    except InputError as e:
        assert case.expect != OK, f"refused something DynamoDB accepts: {e.reason}"
        assert e.errno == case.expect, (errno.errorcode[e.errno], e.reason)
        reason = e.reason
        assert reason and "\n" not in reason and "\r" not in reason, reason  # one errors-file line
        reason.encode("utf-8")  # writable to the errors file and the log
        assert len(reason) < 400, reason  # a sentence, not an echo of the input
        assert case.words in reason, reason
        if "invalid JSON" in reason:
            assert re.search(r"line \d+ column \d+", reason), reason
        return
    assert case.expect == OK, f"accepted: {str(item)[:200]}"
    for name, av in item.items():
        for s in [name, *_all_text(av)]:
            s.encode("utf-8")  # all of it can be sent
    assert itemjson.item_size(item) <= ITEM_MAX
    assert itemjson.same_item(itemjson.loads(itemjson.dumps(item)), item)  # and read back and saved again
    _SERIALIZER.serialize_to_request({"TableName": "t", "Item": item}, _PUT)  # a PutItem boto3 can send


def test_number_that_rounds_at_28_digits_survives_an_edit():
    """The issue's last point: 9.99..E+125 (38 digits) used to round past the range check."""
    item = itemjson.loads(J(n=EDGE, m="1"))
    assert item["n"] == {"N": EDGE}
    edited = itemjson.dumps(item).replace(b'"m": 1', b'"m": 2')
    assert itemjson.loads(edited)["n"] == {"N": EDGE}


# -- through the filesystem (no mount) ----------------------------------------------------------

R = "us-east-1"
ORIGINAL = {"id": {"S": "a"}, "n": {"N": "1"}, "edge": {"N": EDGE}}


@pytest.fixture
def hostile_table(boto, unique):
    name = unique("hostile")
    make_table(boto("dynamodb"), name, [ORIGINAL])
    return name


def _save(fs, path: str, data: bytes) -> None:
    """bash `echo ... > f`: open, truncate, write, close (flush)."""
    fh = fs.open(path, os.O_WRONLY)
    try:
        fs.truncate(path, 0)
        fs.write(path, data, 0, fh)
        fs.flush(path, fh)
    finally:
        fs.release(path, fh)


FS_CASES = [
    ("duplicate-name", b'{"id": "a", "n": 1, "n": 2}', errno.EINVAL, "'n' appears twice in one object at line 1 column 21"),
    ("nesting-100000", b'{"id": "a", "x": ' + b"[" * 100000, errno.EINVAL, "nested deeper than DynamoDB's 32 levels"),
    ("nesting-33", b'{"id": "a", "x": ' + b"[" * 32 + b"1" + b"]" * 32 + b"}", errno.EINVAL, "nested deeper"),
    ("exponent", b'{"id": "a", "n": 1e999999999}', errno.EINVAL, "n: 1e999999999 is too large"),
    ("lone-surrogate", b'{"id": "a", "s": "\\ud800"}', errno.EINVAL, "lone surrogate"),
    ("over-400KB", J(s='"' + "x" * ITEM_MAX + '"'), errno.EFBIG, "DynamoDB items are at most"),
    ("empty-key", b'{"id": "", "n": 1}', errno.EINVAL, "cannot be empty"),
    ("not-utf8", b'{"id": "a", "s": "\xed\xa0\x80"}', errno.EINVAL, "not UTF-8 text"),
]


@pytest.mark.parametrize("data,err,words", [c[1:] for c in FS_CASES], ids=[c[0] for c in FS_CASES])
def test_hostile_save_is_refused_at_close_and_explained(make_fs, boto, hostile_table, data, err, words):
    fs = make_fs(regions=[R])
    path = f"/dynamo/{R}/{hostile_table}/a.json"
    before = read(fs, path)
    with pytest.raises(FsError) as e:
        _save(fs, path, data)
    assert e.value.errno == err and words in e.value.reason
    lines = read(fs, "/.awsfs/errors").decode().splitlines()
    assert any(path in line and errno.errorcode[err] in line and words in line for line in lines), lines
    got = boto("dynamodb").get_item(TableName=hostile_table, Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert itemjson.same_item(got, ORIGINAL)
    assert read(fs, path) == before


def test_item_holding_the_largest_number_can_be_edited(make_fs, boto, hostile_table):
    fs = make_fs(regions=[R])
    path = f"/dynamo/{R}/{hostile_table}/a.json"
    text = read(fs, path)
    assert EDGE.encode() in text
    _save(fs, path, text.replace(b'"n": 1', b'"n": 2'))
    got = boto("dynamodb").get_item(TableName=hostile_table, Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "2"} and got["edge"] == {"N": EDGE}
