"""DynamoDB items as plain JSON a person edits comfortably — exact both ways.

Typed attribute values (``{"S": ..}``, ``{"N": ..}``) become plain JSON; numbers are printed and
parsed as exact decimal text (never through float). The types JSON lacks use a one-key tagged
object:

=================  ==========================================
``{"$b": "..."}``  binary (base64)
``{"$ss": [..]}``  string set (sorted)
``{"$ns": [..]}``  number set (sorted)
``{"$bs": [..]}``  binary set (base64, sorted)
``{"$m": {..}}``   a map whose only key happens to be one of these tags
=================  ==========================================
"""
from __future__ import annotations

import base64
import binascii
import errno
import json
from json.encoder import encode_basestring  # C-accelerated string quoting (ensure_ascii=False)
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from .errors import InputError
from .names import escape, unescape

__all__ = ["ITEM_MAX", "dumps", "item_size", "key_name", "key_of", "loads", "parse_key_name", "same_item"]

ITEM_MAX = 400 * 1024
TAGS = ("$b", "$ss", "$ns", "$bs", "$m")
_MAX_DIGITS = 38
_EXACT = Context(prec=200)  # never round: the default context keeps only 28 digits


def _canon(d: Decimal) -> Decimal:
    """The number without trailing zeros, exactly."""
    return d.normalize(_EXACT)


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


def _num(d: Decimal) -> str:
    # exact text; prefer plain notation unless the exponent would make it absurdly long
    s = format(d, "f") if -40 < d.adjusted() < 60 else str(d)
    return s


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
    _write({k: _plain(v) for k, v in item.items()}, 0, out)
    out.append("\n")
    return "".join(out).encode("utf-8")


# -- plain -> typed ---------------------------------------------------------------------------

def _bad(reason: str) -> InputError:
    return InputError(errno.EINVAL, reason)


def _check_number(d: Decimal, where: str) -> str:
    if not d.is_finite():
        raise _bad(f"{where}: {d} is not a number DynamoDB can store")
    if d.is_zero():
        return "0"
    digits = len(_canon(d).as_tuple().digits)
    if digits > _MAX_DIGITS:
        raise _bad(f"{where}: {d} has {digits} significant digits; DynamoDB keeps at most {_MAX_DIGITS}")
    if not (Decimal("1E-130") <= abs(d) < Decimal("1E126")):
        raise _bad(f"{where}: {d} is outside DynamoDB's number range (1E-130 .. 9.99E+125)")
    return _num(_canon(d))  # the text DynamoDB itself returns (2.50 -> 2.5, 1E+3 -> 1000)


def _b64(s: Any, where: str) -> bytes:
    if not isinstance(s, str):
        raise _bad(f"{where}: binary must be a base64 string")
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{where}: {s[:40]!r} is not valid base64") from None


def _typed(v: Any, where: str) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"BOOL": v}
    if v is None:
        return {"NULL": True}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, Decimal):
        return {"N": _check_number(v, where)}
    if isinstance(v, int):
        return {"N": _check_number(Decimal(v), where)}
    if isinstance(v, list):
        return {"L": [_typed(x, f"{where}[{i}]") for i, x in enumerate(v)]}
    if isinstance(v, dict):
        if len(v) == 1:
            (tag, x), = v.items()
            if tag in TAGS:
                return _tagged(tag, x, where)
        return {"M": {k: _typed(x, f"{where}.{k}") for k, x in v.items()}}
    raise _bad(f"{where}: {type(v).__name__} cannot be stored")


def _tagged(tag: str, x: Any, where: str) -> dict[str, Any]:
    if tag == "$b":
        return {"B": _b64(x, where)}
    if tag == "$m":
        if not isinstance(x, dict):
            raise _bad(f"{where}: $m must hold an object")
        return {"M": {k: _typed(y, f"{where}.{k}") for k, y in x.items()}}
    if not isinstance(x, list):
        raise _bad(f"{where}: {tag} must hold a list")
    if not x:
        raise _bad(f"{where}: empty set ({tag}: []); DynamoDB cannot store an empty set — remove the attribute")
    if tag == "$ss":
        if not all(isinstance(s, str) for s in x):
            raise _bad(f"{where}: $ss must hold strings")
        vals: list[Any] = x
        t = "SS"
    elif tag == "$ns":
        if not all(isinstance(n, (Decimal, int)) and not isinstance(n, bool) for n in x):
            raise _bad(f"{where}: $ns must hold numbers")
        vals = [_check_number(Decimal(n), where) for n in x]
        t = "NS"
    else:
        vals = [_b64(s, where) for s in x]
        t = "BS"
    if len(set(vals)) != len(vals) and t != "NS":
        raise _bad(f"{where}: {tag} holds duplicates")
    if t == "NS" and len({Decimal(n) for n in vals}) != len(vals):
        raise _bad(f"{where}: $ns holds duplicates")
    return {t: vals}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON for DynamoDB")


def loads(data: bytes) -> dict[str, Any]:
    """Parse a file's bytes into a typed item, or raise InputError saying what and where."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad(f"not UTF-8 text (byte {e.start})") from None
    try:
        plain = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise _bad(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except ValueError as e:
        raise _bad(f"invalid JSON: {e}") from None
    if not isinstance(plain, dict) or len(plain) == 1 and next(iter(plain)) in TAGS:
        raise _bad("an item must be a JSON object of attributes")
    item = {k: _typed(v, k) for k, v in plain.items()}
    if any(k == "" for k in item):
        raise _bad("attribute names cannot be empty")
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
        return len(v.lstrip("-").replace(".", "")) // 2 + 2
    if t == "B":
        return len(v)
    if t in ("BOOL", "NULL"):
        return 1
    if t == "SS":
        return sum(len(s.encode()) for s in v)
    if t == "NS":
        return sum(len(n) // 2 + 2 for n in v)
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
    """The item's key values as a comparable tuple, or InputError if an attribute is missing."""
    out = []
    for name, typ in schema:
        av = item.get(name)
        if av is None:
            raise _bad(f"the key attribute {name!r} is missing")
        (t, v), = av.items()
        if t != typ:
            raise _bad(f"the key attribute {name!r} must be of type {typ}, not {t}")
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
    """Whether DynamoDB accepts ``av`` as a key value (not empty; a number it can hold)."""
    (t, v), = av.items()
    if t == "N":
        try:
            _check_number(Decimal(v), "key")
        except (InputError, InvalidOperation):
            return False
        return True
    return bool(v)


def parse_key_name(name: str, typ: str, suffix: str = "") -> dict[str, Any] | None:
    """The key value a canonical file name stands for, or None."""
    value = unescape(name, suffix)
    if value is None:
        return None
    if typ == "S":
        return {"S": value}
    if typ == "N":
        try:
            d = Decimal(value)
        except InvalidOperation:
            return None
        av = {"N": str(d)}
        return av if d.is_finite() and key_name(av, suffix) == name else None
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        return None
    av = {"B": raw}
    return av if key_name(av, suffix) == name else None
