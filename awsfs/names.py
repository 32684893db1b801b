"""Reversible file names for arbitrary strings (DynamoDB keys, tag keys).

Rules (documented in the README):

* ``%``, ``/``, NUL, control characters (U+0000-U+001F, U+007F) and a leading ``.`` are written as
  ``%XX`` (UTF-8 bytes, upper-case hex). Everything else, including spaces and non-ASCII, is kept.
* A name longer than 255 bytes (with its suffix) keeps its first ~200 bytes and ends in ``%~`` plus
  16 hex digits of the SHA-256 of the value. ``%~`` never occurs in an ordinary name, so such a
  name is recognised; its full value is in the file's content and resolved through the listing.
* A name is *canonical* when escaping its decoded value gives the name back; only canonical names
  address things, so every value has exactly one name.
"""
from __future__ import annotations

import hashlib
from typing import Optional
from urllib.parse import unquote

__all__ = ["NAME_MAX", "escape", "is_long", "unescape"]

NAME_MAX = 255
_LONG_KEEP = 200
LONG_MARK = "%~"


def _needs_escape(ch: str, first: bool) -> bool:
    o = ord(ch)
    return ch in "%/" or o < 0x20 or o == 0x7F or (first and ch == ".")


def escape(value: str, suffix: str = "") -> str:
    out = []
    for i, ch in enumerate(value):
        if _needs_escape(ch, i == 0):
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    name = "".join(out)
    if len((name + suffix).encode("utf-8", "surrogateescape")) <= NAME_MAX:
        return name + suffix
    digest = hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    keep = name.encode("utf-8", "surrogateescape")[:_LONG_KEEP].decode("utf-8", "ignore")
    # do not cut an escape in half
    pct = keep.rfind("%", max(0, len(keep) - 2))
    if pct != -1:
        keep = keep[:pct]
    return f"{keep}{LONG_MARK}{digest}{suffix}"


def is_long(name: str) -> bool:
    return LONG_MARK in name


def unescape(name: str, suffix: str = "") -> Optional[str]:
    """The value a canonical name stands for, or None (not canonical, or a long name)."""
    if suffix:
        if not name.endswith(suffix) or len(name) == len(suffix):
            return None
        name = name[: -len(suffix)]
    if is_long(name):
        return None
    try:
        value = unquote(name, errors="strict")
    except UnicodeDecodeError:
        return None
    if not value or escape(value) != name:
        return None
    return value
