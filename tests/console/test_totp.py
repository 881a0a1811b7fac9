"""TOTP (RFC 6238) and its QR enrolment, checked against the RFC's own test vectors."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from screening.web.console import totp

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC6238_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "eight_digits"),
    [
        pytest.param(59, "94287082", id="RFC6238 App. B: T=59"),
        pytest.param(1111111109, "07081804", id="RFC6238 App. B: T=1111111109"),
        pytest.param(1111111111, "14050471", id="RFC6238 App. B: T=1111111111"),
        pytest.param(1234567890, "89005924", id="RFC6238 App. B: T=1234567890"),
        pytest.param(2000000000, "69279037", id="RFC6238 App. B: T=2000000000"),
        pytest.param(20000000000, "65353130", id="RFC6238 App. B: T=20000000000"),
    ],
)
def test_codes_match_rfc6238_appendix_b_sha1_vectors(unix_time: int, eight_digits: str) -> None:
    # Six-digit codes are the last six of the RFC's eight (the same truncation, mod 10^6).
    assert totp.code_at(RFC6238_SECRET, totp.time_step(unix_time)) == eight_digits[-6:]


def test_rfc6238_time_step_is_thirty_seconds_from_the_epoch() -> None:
    assert totp.time_step(59) == 1
    assert totp.time_step(1111111109) == 0x23523EC


@pytest.mark.parametrize(
    ("offset_steps", "accepted"),
    [
        pytest.param(-2, False, id="RFC6238 §5.2: two steps late refused"),
        pytest.param(-1, True, id="RFC6238 §5.2: one step late accepted"),
        pytest.param(0, True, id="current step"),
        pytest.param(1, True, id="RFC6238 §5.2: one step early accepted"),
        pytest.param(2, False, id="RFC6238 §5.2: two steps early refused"),
    ],
)
def test_one_step_of_drift_either_way_rfc6238_section_5_2(offset_steps: int,
                                                          accepted: bool) -> None:
    now = 1_800_000_015.0
    step = totp.time_step(now) + offset_steps
    matched = totp.match_step(RFC6238_SECRET, totp.code_at(RFC6238_SECRET, step), now, None)
    assert (matched == step) is accepted
    assert accepted or matched is None


def test_a_code_is_never_accepted_twice_rfc6238_section_5_2() -> None:
    now = 1_800_000_015.0
    step = totp.time_step(now)
    code = totp.code_at(RFC6238_SECRET, step)
    assert totp.match_step(RFC6238_SECRET, code, now, None) == step
    assert totp.match_step(RFC6238_SECRET, code, now, step) is None
    earlier = totp.code_at(RFC6238_SECRET, step - 1)
    assert totp.match_step(RFC6238_SECRET, earlier, now, step) is None
    later = totp.code_at(RFC6238_SECRET, step + 1)
    assert totp.match_step(RFC6238_SECRET, later, now, step) == step + 1


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [("123456", "123456"), (" 123 456 ", "123456"), ("12345", None), ("1234567", None),
     ("12a456", None), ("١٢٣٤٥٦", None), ("", None)],
)
def test_codes_are_six_ascii_digits_spaces_ignored(typed: str, normalised: str | None) -> None:
    assert totp.normalise(typed) == normalised


def test_malformed_code_never_matches() -> None:
    assert totp.match_step(RFC6238_SECRET, "abcdef", 1_800_000_015.0, None) is None


def test_new_secrets_are_160_bit_base32_and_differ() -> None:
    first, second = totp.new_secret(), totp.new_secret()
    assert first != second
    assert re.fullmatch(r"[A-Z2-7]{32}", first)
    assert len(base64.b32decode(first)) == 20


def test_provisioning_uri_follows_the_key_uri_format() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "dr@west.example", "Screening West")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Screening%20West:dr@west.example"
    assert parse_qs(parts.query) == {
        "secret": ["JBSWY3DPEHPK3PXP"], "issuer": ["Screening West"], "algorithm": ["SHA1"],
        "digits": ["6"], "period": ["30"],
    }


def test_qr_code_is_inline_svg_without_script_or_style_attributes() -> None:
    svg = totp.qr_svg("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", "QR code")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<title>QR code</title>" in svg
    assert "<script" not in svg and "style=" not in svg
