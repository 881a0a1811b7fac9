"""Request bodies parse exactly as ``json.loads`` parses them (``screening.web.api._json``),
whichever parser reads them: same values, same types, same refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screening.errors import BadRequest
from screening.web.api._json import parse

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(),
              st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)


def _typed(value: Any) -> Any:
    """``value`` with every scalar's type beside it (``1 == 1.0 == True`` otherwise)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


def _json_loads(raw: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)

    return json.loads(raw, parse_constant=refuse)


@given(JSON_VALUES, st.booleans())
def test_any_json_document_parses_to_what_json_loads_gives(value: Any, ascii_only: bool
                                                            ) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    assert _typed(parse(raw)) == _typed(_json_loads(raw))


@pytest.mark.parametrize("raw", [
    b"[18446744073709551616]",        # beyond 64 bits: stays an integer
    b"[-9223372036854775809]",
    b'{"a": 1, "a": 2}',              # the last duplicate wins
    b'"\\ud800"',                      # a lone surrogate escape
    b"\xef\xbb\xbf{}",                # a UTF-8 byte order mark
    '{"x": "é"}'.encode("utf-16"),    # UTF-16, detected by json
    b'"\xed\xa0\x80"',                # a surrogate encoded in UTF-8
    b"[1e400]",                       # too large for a double: infinity
    b"[" * 1000 + b"]" * 1000,        # nesting deeper than orjson reads
], ids=["above-u64", "below-i64", "duplicate", "lone-surrogate", "bom", "utf-16",
        "utf8-surrogate", "huge-exponent", "deep-but-parseable"])
def test_documents_orjson_reads_differently_or_refuses_parse_as_json_loads_does(
        raw: bytes) -> None:
    try:
        expected = _typed(_json_loads(raw))
    except (ValueError, RecursionError):
        with pytest.raises(BadRequest):
            parse(raw)
        return
    assert _typed(parse(raw)) == expected


@pytest.mark.parametrize("raw", [b"NaN", b"[Infinity]", b"[-Infinity]", b"", b"{",
                                 b"\xff\xfe{", b"[" * 5000 + b"]" * 5000])
def test_what_json_loads_refuses_is_a_400(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse(raw)
