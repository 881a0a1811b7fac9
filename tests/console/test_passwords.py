"""Console passwords: argon2id hashes, constant work for unknown accounts, length policy
(NIST SP 800-63B §5.1.1)."""

from __future__ import annotations

import pytest

from screening.web.console import passwords


def test_hash_is_argon2id_salted_and_verifies_only_the_same_password() -> None:
    first = passwords.hash_password("correct horse battery staple")
    second = passwords.hash_password("correct horse battery staple")
    assert first.startswith("$argon2id$") and first != second
    assert passwords.verify(first, "correct horse battery staple")
    assert not passwords.verify(first, "correct horse battery stapler")
    assert not passwords.needs_rehash(first)


def test_unknown_account_and_broken_hash_never_match() -> None:
    assert not passwords.verify(None, "no such account")
    assert not passwords.verify("not-a-hash", "anything")


@pytest.mark.parametrize(
    ("length", "accepted"),
    [
        pytest.param(11, False, id="SP800-63B: 11 refused"),
        pytest.param(12, True, id="SP800-63B: 12 accepted"),
        pytest.param(1024, True, id="1024 accepted"),
        pytest.param(1025, False, id="1025 refused"),
    ],
)
def test_length_is_the_only_rule_nist_sp_800_63b(length: int, accepted: bool) -> None:
    assert (passwords.policy_errors("x" * length) == []) is accepted
