"""Limits on JSON that clients send: nesting depth and size, checked before parsing.

Python's json parser recurses once per level of nesting, so a body of
``[[[[...`` a few hundred thousand levels deep raised RecursionError: a 500 on
the REST API and a 1011 close on WebSockets. ``check`` measures the depth with
one linear pass over the text that skips strings, and ``loads`` parses only
what passed, so the parser never nests deeper than the limit.

The pass runs in C: regular expressions strip strings, then everything that
is not a bracket, and accumulate() sums the brackets' steps, stopping once
the limit is passed. A 1 MiB didOpen costs a few milliseconds; the worst
case, megabytes of nothing but shallow brackets, costs about 30 ns per byte,
and the size limit, checked first, bounds that. Pure: no Django; callers
pass the limits (settings ``JSON_MAX_DEPTH``, the route's size limit).
"""

import json
import re
from array import array
from itertools import accumulate
from typing import Any


class JsonLimitError(ValueError):
    """JSON over a limit; the message says which, in words a client can show."""


class JsonTooDeep(JsonLimitError):
    pass


class JsonTooLarge(JsonLimitError):
    pass


# A JSON string, from its opening quote to its closing quote or, when it is
# never closed, to the end of the text. Possessive quantifiers and the end
# alternative make every match succeed without backtracking, so an
# unterminated string cannot make the scan quadratic.
_STRINGS = {
    str: re.compile(r'"(?:[^"\\]++|\\[\s\S]?)*+(?:"|\Z)'),
    bytes: re.compile(rb'"(?:[^"\\]++|\\[\s\S]?)*+(?:"|\Z)'),
}
_NOT_BRACKETS = {str: re.compile(r"[^\[\]{}]++"), bytes: re.compile(rb"[^\[\]{}]++")}
# Brackets as signed bytes, +1 for an opening one and -1 for a closing one:
# the running sum is the depth, computed by accumulate() in C.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_CHUNK = 64 * 1024  # brackets summed between two looks at the depth so far


def nesting_depth(text: str | bytes, *, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not count).

    With ``stop_above`` the count may stop as soon as the depth exceeds it
    (the answer is then only known to be larger). For invalid JSON the
    answer may be too high, never lower than what the parser would reach
    before it stops at the error.
    """
    kind = bytes if isinstance(text, bytes | bytearray) else str
    brackets = _NOT_BRACKETS[kind].sub(kind(), _STRINGS[kind].sub(kind(), text))
    if kind is str:
        brackets = brackets.encode("ascii")  # nothing but brackets is left
    steps = array("b", brackets.translate(_STEPS))
    depth = deepest = 0
    for start in range(0, len(steps), _CHUNK):
        running = list(accumulate(steps[start : start + _CHUNK], initial=depth))
        deepest, depth = max(deepest, max(running)), running[-1]
        if stop_above is not None and deepest > stop_above:
            break
    return deepest


def utf8_size_exceeds(text: str | bytes, max_bytes: int) -> bool:
    """True if ``text`` takes more than ``max_bytes`` bytes in UTF-8 (encodes only near the limit)."""
    if isinstance(text, bytes | bytearray):
        return len(text) > max_bytes
    # A character takes 1 to 4 bytes: most texts are decided by their length alone.
    return len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode("utf-8", "replace")) > max_bytes)


def check(text: str | bytes, *, max_depth: int, max_bytes: int | None = None) -> None:
    """Raise ``JsonTooLarge`` or ``JsonTooDeep`` if ``text`` is over a limit."""
    if max_bytes is not None and utf8_size_exceeds(text, max_bytes):
        raise JsonTooLarge(f"JSON messages are limited to {max_bytes} bytes.")
    # Without that many opening brackets the text cannot be that deep: most
    # messages are decided by two counts, done in C.
    opening = (b"[", b"{") if isinstance(text, bytes | bytearray) else ("[", "{")
    could_be_too_deep = text.count(opening[0]) + text.count(opening[1]) > max_depth
    if could_be_too_deep and nesting_depth(text, stop_above=max_depth) > max_depth:
        raise JsonTooDeep(f"JSON nested more than {max_depth} levels deep is refused.")


def loads(text: str | bytes, *, max_depth: int, max_bytes: int | None = None, **json_options) -> Any:
    """``json.loads(text)`` after ``check``; raises ``JsonLimitError`` or json's ``ValueError``."""
    check(text, max_depth=max_depth, max_bytes=max_bytes)
    return json.loads(text, **json_options)
