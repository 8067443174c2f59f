"""Large request bodies without a blocked event loop (issue 15): turns, and JSON parsed in them.

A 50,000-row upload is about 10 MB of JSON: `json.loads` takes it in one call of 100+ ms, in
which the process answers nothing else. A thread does not help: the C parser holds the GIL for
the whole call. `json_in_turns` parses the same text one member or element of the top-level
value at a time and gives the loop a turn every couple of milliseconds; `UploadRoute` makes a
route's body go through it, so FastAPI validates and documents the body as for any other route.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import gc
import json
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

# Most a caller keeps the event loop before other requests get their turn.
TURN_AFTER_S = 0.002
# Bytes decoded, and JSON values parsed, between two looks at the clock.
DECODED_AT_ONCE = 1 << 20
PARSED_AT_ONCE = 64

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


_paused = 0  # uploads running with the collector paused (see collector_paused)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection while a bulk upload runs. An upload holds one or two
    objects per row (100,000 for 50,000 payees); each full pass of the collector walks them all
    while the event loop waits, 40-70 ms a pass, several passes a call. Refcounting still frees
    everything at once (the upload makes no cycles); the collector resumes once the last upload
    has ended, when its rows are gone. Leave the block only after the rows are released."""
    global _paused
    if _paused == 0 and not gc.isenabled():
        yield  # disabled by someone else: theirs to enable
        return
    _paused += 1
    gc.disable()
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.enable()


class Turns:
    """The event loop's turns for a long piece of work: `await take()` often; it yields only once
    the work has kept the loop longer than `after_s` since its last turn."""

    def __init__(self, after_s: float = TURN_AFTER_S) -> None:
        self.after_s = after_s
        self._since = time.perf_counter()

    async def take(self) -> None:
        if time.perf_counter() - self._since > self.after_s:
            await asyncio.sleep(0)
            self._since = time.perf_counter()


async def json_in_turns(raw: bytes, turns: Turns | None = None) -> Any:
    """`json.loads(raw)`: the same value, and a `json.JSONDecodeError` where it raises one, but
    parsed a member or element of the top-level object or array at a time, in turns."""
    turns = turns or Turns()
    text = await _decoded(raw, turns)
    at = _skip(text, 0)
    opening = text[at : at + 1]
    value: Any
    if opening == "{":
        value, at = await _object(text, at + 1, turns)
    elif opening == "[":
        value, at = await _array(text, at + 1, turns)
    else:
        value, at = _value(text, at)
    at = _skip(text, at)
    if at != len(text):
        raise json.JSONDecodeError("Extra data", text, at)
    return value


async def _decoded(raw: bytes, turns: Turns) -> str:
    """The text as `json.loads` decodes bytes (UTF-8, -16 or -32 by their first bytes), in parts."""
    decoder = codecs.getincrementaldecoder(json.detect_encoding(raw))("surrogatepass")
    parts = []
    for start in range(0, len(raw), DECODED_AT_ONCE):
        final = start + DECODED_AT_ONCE >= len(raw)
        parts.append(decoder.decode(raw[start : start + DECODED_AT_ONCE], final))
        await turns.take()
    return "".join(parts)


def _skip(text: str, at: int) -> int:
    match = _WHITESPACE.match(text, at)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _value(text: str, at: int) -> tuple[Any, int]:
    """One JSON value at `at` (after any whitespace), by the standard parser."""
    return _DECODER.raw_decode(text, _skip(text, at))


async def _object(text: str, at: int, turns: Turns) -> tuple[dict[str, Any], int]:
    """The members of the object opened before `at`, an array member in turns; after its `}`."""
    members: dict[str, Any] = {}
    at = _skip(text, at)
    if text[at : at + 1] == "}":
        return members, at + 1
    while True:
        if text[at : at + 1] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        name, at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if text[at : at + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        at = _skip(text, at + 1)
        if text[at : at + 1] == "[":
            members[name], at = await _array(text, at + 1, turns)
        else:
            members[name], at = _value(text, at)
        await turns.take()
        closed, at = _past_delimiter(text, at, "}")
        if closed:
            return members, at
        at = _skip(text, at)


def _past_delimiter(text: str, at: int, close: str) -> tuple[bool, int]:
    """After a member or an element: whether `close` ended the container, and the index past the
    delimiter (`close` or a comma)."""
    at = _skip(text, at)
    delimiter = text[at : at + 1]
    if delimiter == close:
        return True, at + 1
    if delimiter != ",":
        raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
    return False, at + 1


async def _array(text: str, at: int, turns: Turns) -> tuple[list[Any], int]:
    """The elements of the array opened before `at`, PARSED_AT_ONCE between looks at the clock."""
    elements: list[Any] = []
    at = _skip(text, at)
    if text[at : at + 1] == "]":
        return elements, at + 1
    while True:
        value, at = _value(text, at)
        elements.append(value)
        if len(elements) % PARSED_AT_ONCE == 0:
            await turns.take()
        closed, at = _past_delimiter(text, at, "]")
        if closed:
            return elements, at


class _UploadRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = await json_in_turns(await self.body())
        return self._json


class UploadRoute(APIRoute):
    """A route whose JSON body may be large (a bulk upload): FastAPI reads, validates and documents
    it as usual, but the body is parsed by `json_in_turns`. Malformed JSON raises the same
    `JSONDecodeError`, so it is answered as on any other route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await handle(_UploadRequest(request.scope, request.receive))

        return handler
