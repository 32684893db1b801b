"""DynamoDB items as plain JSON a person edits comfortably — exact both ways.

Typed attribute values (``{"S": ..}``, ``{"N": ..}``) become plain JSON; numbers are printed and
parsed as exact decimal text (never through float). The types JSON lacks use a one-key tagged
object:

=================  ==========================================
``{"$b": "..."}``  binary (base64)
``{"$ss": [..]}``  string set (sorted)
``{"$ns": [..]}``  number set (sorted)
``{"$bs": [..]}``  binary set (base64, sorted)
``{"$m": {..}}``   a map whose only key happens to be one of these tags (also a whole item whose
                   only attribute is named like a tag)
=================  ==========================================

Parsing validates as DynamoDB does, so that bad content is refused here with a sentence saying
what and where (``InputError``, EINVAL or EFBIG) and never with any other exception:

* numbers: at most 38 significant digits (leading and trailing zeros do not count), magnitude
  1E-130 to 9.9999999999999999999999999999999999999E+125, or zero; no NaN or Infinity. All
  number work is exact integer arithmetic on the digits (no decimal context can round or
  overflow), and an absurd exponent (``1e999999999``) is refused before any Decimal exists;
* nesting: the item counts as the first level and DynamoDB allows 32, so an attribute's value
  nests at most 31 maps/lists (measured against AWS: 31 map wraps accepted, 32 refused);
  anything deeper than the tagged forms could make it is refused by a scan of the text before
  parsing, so neither the JSON parser nor this module can recurse without bound;
* strings and names: valid Unicode (a lone surrogate such as ``"\\ud800"`` has no UTF-8 form);
  control characters are fine; attribute names 1 byte to 64 KB - 1; empty string and binary
  values are fine except as a key (``key_of``); sets non-empty and without duplicates;
* a JSON object names each attribute once (``{"n": 1, "n": 2}`` is refused, not "last wins");
* size: an item is at most 400 KB (names plus values, DynamoDB's rule); a file's text is refused
  before parsing past ``TEXT_MAX`` (the text of an item legitimately exceeds 400 KB: base64 is
  4/3 of its bytes, indentation and escapes add more).
"""
from __future__ import annotations

import base64
import binascii
import errno
import json
import json.decoder
import json.scanner
import re
from json.encoder import encode_basestring  # C-accelerated string quoting (ensure_ascii=False)
from decimal import Decimal, InvalidOperation
from typing import Any, Optional, Union

from .errors import InputError
from .names import escape, unescape

__all__ = ["ITEM_MAX", "TEXT_MAX", "dumps", "item_size", "key_name", "key_of", "loads", "parse_key_name",
           "same_item", "storable_key"]

ITEM_MAX = 400 * 1024
# The longest text an item of ITEM_MAX can need, as dumps() renders it or an editor re-indents it
# (the worst case is ~36 bytes of text per byte of item: `false` at 31 levels of indentation).
TEXT_MAX = 40 * ITEM_MAX
TAGS = ("$b", "$ss", "$ns", "$bs", "$m")
_MAX_DIGITS = 38
_MAX_ADJUSTED, _MIN_ADJUSTED = 125, -130  # 9.99..E+125 and 1E-130 as (exponent of the first digit)
MAX_LEVELS = 32  # the item itself is level 1
# Deepest JSON text a valid item can have: the item (2 as {"$m": {..}}), then 2 per level
# ({"$m": {..}} again), then a set ({"$ss": [..]}).
_MAX_TEXT_DEPTH = 2 + 2 * (MAX_LEVELS - 1) + 2
NAME_MAX = 65535  # bytes of UTF-8; DynamoDB refuses 65536
HASH_KEY_MAX, RANGE_KEY_MAX = 2048, 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


# -- numbers (exact, no decimal context anywhere) ---------------------------------------------

def _parts(d: Decimal) -> Optional[tuple[int, str, int]]:
    """``(sign, digits, exponent)`` without leading or trailing zeros; None for zero.
    ValueError for NaN and infinities."""
    sign, digits, exp = d.as_tuple()
    if not isinstance(exp, int):
        raise ValueError("not finite")
    s = "".join(map(str, digits)).lstrip("0")
    if not s:
        return None
    t = s.rstrip("0")
    return sign, t, exp + len(s) - len(t)


def _from_parts(sign: int, digits: str, exp: int) -> Decimal:
    return Decimal(f"{'-' if sign else ''}{digits}E{exp}")  # exact: construction never rounds


def _canon(d: Decimal) -> Decimal:
    """The number without trailing zeros, exactly (zero is 0)."""
    p = _parts(d)
    return Decimal(0) if p is None else _from_parts(*p)


def _num(d: Decimal) -> str:
    # exact text; prefer plain notation unless the exponent would make it absurdly long
    return format(d, "f") if -40 < d.adjusted() < 60 else str(d)


class _BadNumber(str):
    """A JSON number refused while parsing (NaN, Infinity, an absurd exponent); ``reason`` says why."""
    reason = ""


def _bad_number(text: str, reason: str) -> _BadNumber:
    b = _BadNumber(text)
    b.reason = reason
    return b


_NUMBER = re.compile(r"(-?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?)(\d+))?\Z")
_RANGE = "DynamoDB's number range is 1E-130 to 9.9999999999999999999999999999999999999E+125 (and 0)"


def _number_problem(digits: int, adjusted: int) -> Optional[str]:
    """What DynamoDB refuses in a non-zero number of ``digits`` significant digits whose first digit
    has the exponent ``adjusted``, or None."""
    if digits > _MAX_DIGITS:
        return (f"has {digits} significant digits; DynamoDB keeps at most {_MAX_DIGITS} "
                "(store it as a string to keep them all)")
    if not _MIN_ADJUSTED <= adjusted <= _MAX_ADJUSTED:
        return f"is too {'large' if adjusted > 0 else 'small'}: {_RANGE}"
    return None


def _parse_number(text: str) -> Union[Decimal, _BadNumber]:
    """json's parse_int/parse_float. Validates on the text alone (string operations, no decimal
    arithmetic): a number DynamoDB refuses becomes a _BadNumber saying why, one it accepts the exact
    Decimal of its significant digits (so a million trailing zeros cost nothing later)."""
    m = _NUMBER.match(text)
    if m is None:  # cannot happen for json's own scanner; be safe anyway
        return _bad_number(text, "is not a number")
    neg, ip, fp, esign, ex = m.groups()
    fp = fp or ""
    s = (ip + fp).lstrip("0")
    if not s:
        return Decimal(0)  # zero, whatever its exponent or sign (-0, 0e999999999)
    ex = (ex or "").lstrip("0")
    if len(ex) > 9:
        # |exponent| >= 1E+9 while the text has far fewer digits than that: hopelessly out of range
        return _bad_number(text, f"is too {'small' if esign == '-' else 'large'}: {_RANGE}")
    core = s.rstrip("0")
    exp = int(ex or "0") * (-1 if esign == "-" else 1) - len(fp) + len(s) - len(core)  # of core's last digit
    problem = _number_problem(len(core), exp + len(core) - 1)
    if problem is not None:
        return _bad_number(text, problem)
    return Decimal(f"{neg}{core}E{exp}")


def _reject_constant(name: str) -> _BadNumber:
    return _bad_number(name, "is not a number DynamoDB can store (no NaN or Infinity)")


def _shown_number(text: str) -> str:
    return text if len(text) <= 50 else f"{text[:24]}…{text[-12:]} ({len(text)} characters)"


def _check_number(d: Any, where: str) -> str:
    """The canonical text DynamoDB itself returns for ``d`` (2.50 -> 2.5, 1E+3 -> 1000), or InputError."""
    if isinstance(d, _BadNumber):
        raise _bad(f"{where}: {_shown_number(d)} {d.reason}")
    if not isinstance(d, Decimal):
        d = Decimal(d)
    try:
        p = _parts(d)
    except ValueError:
        raise _bad(f"{where}: {d} is not a number DynamoDB can store (no NaN or Infinity)") from None
    if p is None:
        return "0"
    sign, digits, exp = p
    problem = _number_problem(len(digits), exp + len(digits) - 1)
    if problem is not None:
        raise _bad(f"{where}: {_shown_number(str(d))} {problem}")
    return _num(_from_parts(sign, digits, exp))


def _num_size(text: str) -> int:
    """DynamoDB's size of a number: 1 byte per two significant digits, plus 1 (plus 1 if negative)."""
    mant = text.lstrip("-").split("E")[0].split("e")[0].replace(".", "").strip("0")
    return (len(mant) + 1) // 2 + 1 + text.startswith("-")


# -- typed -> plain ---------------------------------------------------------------------------

def _plain(av: dict[str, Any]) -> Any:
    (t, v), = av.items()
    if t == "S":
        return v
    if t == "N":
        return Decimal(v)
    if t == "BOOL":
        return bool(v)
    if t == "NULL":
        return None
    if t == "B":
        return {"$b": base64.b64encode(bytes(v)).decode()}
    if t == "SS":
        return {"$ss": sorted(v)}
    if t == "NS":
        return {"$ns": sorted((Decimal(x) for x in v))}
    if t == "BS":
        return {"$bs": sorted(base64.b64encode(bytes(x)).decode() for x in v)}
    if t == "L":
        return [_plain(x) for x in v]
    if t == "M":
        m = {k: _plain(x) for k, x in v.items()}
        return {"$m": m} if len(m) == 1 and next(iter(m)) in TAGS else m
    raise ValueError(f"unknown DynamoDB type {t}")


def _write(v: Any, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    if isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        out.append("{\n")
        items = sorted(v.items())
        for i, (k, x) in enumerate(items):
            out.append(f"{pad}  {encode_basestring(k)}: ")
            _write(x, indent + 1, out)
            out.append(",\n" if i < len(items) - 1 else "\n")
        out.append(pad + "}")
    elif isinstance(v, list):
        if not v:
            out.append("[]")
            return
        out.append("[\n")
        for i, x in enumerate(v):
            out.append(pad + "  ")
            _write(x, indent + 1, out)
            out.append(",\n" if i < len(v) - 1 else "\n")
        out.append(pad + "]")
    elif isinstance(v, str):
        out.append(encode_basestring(v))
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif v is None:
        out.append("null")
    elif isinstance(v, Decimal):
        out.append(_num(v))
    else:
        out.append(json.dumps(v, ensure_ascii=False))


def dumps(item: dict[str, Any]) -> bytes:
    out: list[str] = []
    plain = {k: _plain(v) for k, v in item.items()}
    if len(plain) == 1 and next(iter(plain)) in TAGS:
        plain = {"$m": plain}  # an item whose only attribute is named "$b" (etc.) is not a binary
    _write(plain, 0, out)
    out.append("\n")
    return "".join(out).encode("utf-8")


# -- plain -> typed ---------------------------------------------------------------------------

def _bad(reason: str) -> InputError:
    return InputError(errno.EINVAL, reason)


def _show(name: str, limit: int = 60) -> str:
    """A name as it may appear in a one-line message: non-printable characters (newlines, lone
    surrogates) escaped, long names shortened."""
    if len(name) > limit:
        name = name[:limit] + "…"
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name)


def _named(name: str) -> str:
    """A name quoted for a message (repr escapes what is not printable)."""
    return repr(name if len(name) <= 60 else name[:60] + "…")


def _child(where: str, key: str) -> str:
    return f"{where}.{_show(key)}"


def _check_string(s: str, where: str) -> str:
    m = _SURROGATE.search(s)
    if m is not None:
        raise _bad(f"{where}: the string holds a lone surrogate ({ascii(m.group())[1:-1]}) at character "
                   f"{m.start()}, which is not Unicode text and has no UTF-8 form; DynamoDB cannot store it")
    return s


def _b64(s: Any, where: str) -> bytes:
    if not isinstance(s, str):
        raise _bad(f"{where}: binary must be a base64 string")
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        # the value itself is never quoted: it may be a secret (its size says which one it is)
        raise _bad(f"{where}: a text of {len(s)} characters that is not valid base64") from None


def _typed(v: Any, where: str, level: int) -> dict[str, Any]:
    """``v`` as a typed value; ``level`` is the nesting level of the map or list holding it (the
    item is level 1)."""
    if isinstance(v, bool):
        return {"BOOL": v}
    if v is None:
        return {"NULL": True}
    if isinstance(v, _BadNumber):
        return {"N": _check_number(v, where)}
    if isinstance(v, str):
        return {"S": _check_string(v, where)}
    if isinstance(v, Decimal):
        return {"N": _check_number(v, where)}
    if isinstance(v, int):
        return {"N": _check_number(Decimal(v), where)}
    if isinstance(v, list):
        _deeper(level, where)
        return {"L": [_typed(x, f"{where}[{i}]", level + 1) for i, x in enumerate(v)]}
    if isinstance(v, dict):
        if len(v) == 1:
            (tag, x), = v.items()
            if tag in TAGS:
                return _tagged(tag, x, where, level)
        return _map(v, where, level)
    raise _bad(f"{where}: {type(v).__name__} cannot be stored")


def _deeper(level: int, where: str) -> None:
    if level + 1 > MAX_LEVELS:
        if len(where) > 80:
            where = f"{where[:40]}…{where[-30:]}"
        raise _bad(f"{where}: nested deeper than DynamoDB's {MAX_LEVELS} levels (the item is the first; "
                   f"an attribute's value holds at most {MAX_LEVELS - 1} maps or lists inside each other)")


def _map(v: dict, where: str, level: int) -> dict[str, Any]:
    _deeper(level, where)
    out = {}
    for k, x in v.items():
        _check_string(k, f"{where}: the name {_named(k)}")
        out[k] = _typed(x, _child(where, k), level + 1)
    return {"M": out}


def _tagged(tag: str, x: Any, where: str, level: int) -> dict[str, Any]:
    if tag == "$b":
        return {"B": _b64(x, where)}
    if tag == "$m":
        if not isinstance(x, dict):
            raise _bad(f"{where}: $m must hold an object")
        return _map(x, where, level)
    if not isinstance(x, list):
        raise _bad(f"{where}: {tag} must hold a list")
    if not x:
        raise _bad(f"{where}: empty set ({tag}: []); DynamoDB cannot store an empty set — remove the attribute")
    if tag == "$ss":
        if not all(isinstance(s, str) and not isinstance(s, _BadNumber) for s in x):
            raise _bad(f"{where}: $ss must hold strings")
        vals: list[Any] = [_check_string(s, f"{where}[{i}]") for i, s in enumerate(x)]
        t = "SS"
    elif tag == "$ns":
        if not all(isinstance(n, (Decimal, int, _BadNumber)) and not isinstance(n, bool) for n in x):
            raise _bad(f"{where}: $ns must hold numbers")
        vals = [_check_number(n, f"{where}[{i}]") for i, n in enumerate(x)]
        t = "NS"
    else:
        vals = [_b64(s, f"{where}[{i}]") for i, s in enumerate(x)]
        t = "BS"
    # number texts are canonical, so equal numbers (1, 1.0, 1E0) have equal texts
    if len(set(vals)) != len(vals):
        raise _bad(f"{where}: {tag} holds duplicates (a set holds each value once)")
    return {t: vals}


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    return f"line {line} column {pos - text.rfind(chr(10), 0, pos)}"


# strings as whole tokens (so brackets inside them are not counted), brackets, or a lone quote;
# every branch starts with a literal, so the regex engine skips other text at C speed
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|\[|\{|\]|\}|"', re.S)


def _prescan(text: str) -> None:
    """Before parsing, in one pass over the text: refuse nesting no valid item has (so parsing
    cannot recurse without bound) and strings with a lone surrogate escape (with their position)."""
    depth = 0
    for m in _TOKENS.finditer(text):
        start = m.start()
        c = text[start]
        if c in "[{":
            depth += 1
            if depth > _MAX_TEXT_DEPTH:
                raise _bad(f"nested deeper than DynamoDB's {MAX_LEVELS} levels at {_line_col(text, start)}")
        elif c != '"':
            depth -= 1
        elif m.end() - start == 1:
            return  # an unterminated string: the parser says where
        elif "\\u" in m.group():
            try:
                s, _ = json.decoder.scanstring(text, start + 1)
            except ValueError:
                continue  # a bad escape or a raw control character: the parser says where
            bad = _SURROGATE.search(s)
            if bad is not None:
                raise _bad(f"the string at {_line_col(text, start)} holds a lone surrogate "
                           f"({ascii(bad.group())[1:-1]}), which is not Unicode text and has no UTF-8 form; "
                           "DynamoDB cannot store it")


class _Duplicate(Exception):
    def __init__(self, name: str, pos: int = -1) -> None:
        super().__init__(name)
        self.name, self.pos = name, pos


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        raise _Duplicate(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return d


def _find_duplicate(text: str) -> _Duplicate:
    """Where the first repeated name is (slow: the pure-Python scanner; only for the message)."""
    dec = json.JSONDecoder(parse_float=_parse_number, parse_int=_parse_number, parse_constant=_reject_constant)

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):
        s = s_and_end[0]
        ends: list[int] = []

        def scan(string: str, idx: int):
            got = scan_once(string, idx)
            ends.append(got[1])
            return got
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan, None, lambda p: p, memo)
        seen: set[str] = set()
        for i, (k, _) in enumerate(pairs):
            if k in seen:  # i >= 1; between the previous value and this name: blanks and a comma
                raise _Duplicate(k, s.index('"', ends[i - 1]))
            seen.add(k)
        return dict(pairs), end
    dec.parse_object = parse_object  # type: ignore[assignment]
    dec.scan_once = json.scanner.py_make_scanner(dec)  # type: ignore[assignment]
    try:
        dec.decode(text)
    except _Duplicate as e:
        return e
    except (ValueError, RecursionError):
        pass
    return _Duplicate("?")


def _text(data: Union[bytes, bytearray, memoryview, str]) -> str:
    if isinstance(data, str):
        if len(data) > TEXT_MAX:
            raise _too_long(len(data), "characters")
        bad = _SURROGATE.search(data)
        if bad is not None:
            raise _bad(f"not UTF-8 text: a lone surrogate ({ascii(bad.group())[1:-1]}) at "
                       f"{_line_col(data, bad.start())}")
        return data
    data = bytes(data)
    if len(data) > TEXT_MAX:
        raise _too_long(len(data), "bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - data.rfind(b"\n", 0, e.start)
        raise _bad(f"not UTF-8 text (byte {e.start}, line {line} column {col}: "
                   f"{data[e.start:e.end + 3][:6]!r})") from None


def _too_long(n: int, unit: str) -> InputError:
    return InputError(errno.EFBIG, f"the file is {n} {unit}; an item's JSON text is at most {TEXT_MAX} bytes "
                                   f"(DynamoDB items are at most {ITEM_MAX} bytes)")


def loads(data: Union[bytes, str]) -> dict[str, Any]:
    """Parse a file's bytes (or text) into a typed item, or raise InputError saying what and where."""
    text = _text(data)
    _prescan(text)
    try:
        plain = json.loads(text, parse_float=_parse_number, parse_int=_parse_number,
                           parse_constant=_reject_constant, object_pairs_hook=_pairs)
    except json.JSONDecodeError as e:
        hint = " (write it as an escape: \\n, \\t, \\u0001)" if "control character" in e.msg else ""
        raise _bad(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}{hint}") from None
    except _Duplicate as e:
        dup = _find_duplicate(text)
        name = dup.name if dup.pos >= 0 else e.name
        at = f" at {_line_col(text, dup.pos)}" if dup.pos >= 0 else ""
        raise _bad(f"the name {_named(name)} appears twice in one object{at}; JSON objects name each "
                   "attribute once (remove one)") from None
    except RecursionError:  # not reachable past _prescan; never let it become EIO regardless
        raise _bad(f"nested deeper than DynamoDB's {MAX_LEVELS} levels") from None
    except ValueError as e:
        raise _bad(f"invalid JSON: {e}") from None
    if isinstance(plain, dict) and len(plain) == 1 and "$m" in plain and isinstance(plain["$m"], dict):
        plain = plain["$m"]  # dumps' form of an item whose only attribute is named like a tag
    elif not isinstance(plain, dict) or len(plain) == 1 and next(iter(plain)) in TAGS:
        what = ("an array" if isinstance(plain, list) else "a string" if isinstance(plain, str) else
                "a number" if isinstance(plain, (Decimal, _BadNumber)) else json.dumps(plain)
                if plain is None or isinstance(plain, bool) else f"a bare {next(iter(plain))} value")
        raise _bad(f"an item must be a JSON object of attributes, not {what}")
    try:
        return _item(plain)
    except (ArithmeticError, UnicodeError, RecursionError) as e:  # not reachable; never EIO for input
        raise _bad(f"this content cannot be stored ({type(e).__name__}: {e})") from None


def _item(plain: dict[str, Any]) -> dict[str, Any]:
    item = {}
    for k, v in plain.items():
        if k == "":
            raise _bad("attribute names cannot be empty")
        _check_string(k, f"the attribute name {_named(k)}")
        if len(k.encode("utf-8")) > NAME_MAX:
            raise _bad(f"the attribute name {_named(k)} is {len(k.encode('utf-8'))} bytes; "
                       f"DynamoDB's limit is {NAME_MAX}")
        item[k] = _typed(v, _show(k), 1)
    size = item_size(item)
    if size > ITEM_MAX:
        raise InputError(errno.EFBIG, f"item is {size} bytes; DynamoDB items are at most {ITEM_MAX} bytes")
    return item


# -- sizes, keys, comparison ------------------------------------------------------------------

def _size(av: dict[str, Any]) -> int:
    (t, v), = av.items()
    if t == "S":
        return len(v.encode("utf-8"))
    if t == "N":
        return _num_size(v)
    if t == "B":
        return len(v)
    if t in ("BOOL", "NULL"):
        return 1
    if t == "SS":
        return sum(len(s.encode()) for s in v)
    if t == "NS":
        return sum(_num_size(n) for n in v)
    if t == "BS":
        return sum(len(b) for b in v)
    if t == "L":
        return 3 + sum(_size(x) + 1 for x in v)
    return 3 + sum(len(k.encode()) + _size(x) + 1 for k, x in v.items())


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size rule: attribute names plus values (close approximation)."""
    return sum(len(k.encode("utf-8")) + _size(v) for k, v in item.items())


def _norm(av: Any) -> Any:
    if not isinstance(av, dict) or len(av) != 1:
        return av
    (t, v), = av.items()
    if t == "N":
        return ("N", Decimal(v))
    if t == "NS":
        return ("NS", frozenset(Decimal(x) for x in v))
    if t in ("SS", "BS"):
        return (t, frozenset(bytes(x) if t == "BS" else x for x in v))
    if t == "B":
        return ("B", bytes(v))
    if t == "L":
        return ("L", tuple(_norm(x) for x in v))
    if t == "M":
        return ("M", frozenset((k, _norm(x)) for k, x in v.items()))
    return (t, v)


def same_item(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal as DynamoDB sees them (1.50 == 1.5, sets unordered)."""
    return _norm({"M": a}) == _norm({"M": b})


def key_of(item: dict[str, Any], schema: list[tuple[str, str]]) -> tuple:
    """The item's key values as a comparable tuple, or InputError if an attribute is missing, of
    the wrong type, empty, or longer than DynamoDB allows (2048 bytes for the partition key, 1024
    for the sort key)."""
    out = []
    for i, (name, typ) in enumerate(schema):
        av = item.get(name)
        if av is None:
            raise _bad(f"the key attribute {name!r} is missing")
        (t, v), = av.items()
        if t != typ:
            raise _bad(f"the key attribute {name!r} must be of type {typ}, not {t}")
        if t in ("S", "B"):
            n = len(v.encode("utf-8")) if t == "S" else len(v)
            if n == 0:
                raise _bad(f"the key attribute {name!r} cannot be empty (only non-key attributes can)")
            limit = HASH_KEY_MAX if i == 0 else RANGE_KEY_MAX
            if n > limit:
                raise _bad(f"the key attribute {name!r} is {n} bytes; DynamoDB's limit for a "
                           f"{'partition' if i == 0 else 'sort'} key is {limit}")
        out.append(_norm(av))
    return tuple(out)


def key_name(av: dict[str, Any], suffix: str = "") -> str:
    """The file name for one key value."""
    (t, v), = av.items()
    if t == "S":
        return escape(v, suffix)
    if t == "N":
        d = Decimal(v)
        return escape("0" if d.is_zero() else _num(_canon(d)), suffix)
    return escape(base64.urlsafe_b64encode(bytes(v)).decode(), suffix)


def storable_key(av: dict[str, Any]) -> bool:
    """Whether DynamoDB accepts ``av`` as a key value (not empty; a number it can hold; text with
    a UTF-8 form)."""
    (t, v), = av.items()
    if t == "N":
        try:
            _check_number(Decimal(v), "key")
        except (InputError, InvalidOperation, ValueError):
            return False
        return True
    if t == "S" and _SURROGATE.search(v):
        return False
    return bool(v)


def parse_key_name(name: str, typ: str, suffix: str = "") -> dict[str, Any] | None:
    """The key value a canonical file name stands for, or None."""
    value = unescape(name, suffix)
    if value is None:
        return None
    if typ == "S":
        # a name that is not UTF-8 (surrogate-escaped bytes) names no key DynamoDB can hold
        return None if _SURROGATE.search(value) else {"S": value}
    if typ == "N":
        try:
            d = Decimal(value)
        except (InvalidOperation, ValueError):
            return None
        if not d.is_finite():
            return None
        av = {"N": str(d)}
        return av if key_name(av, suffix) == name else None
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    av = {"B": raw}
    return av if key_name(av, suffix) == name else None
