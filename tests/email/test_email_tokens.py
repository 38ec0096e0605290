"""Unsubscribe tokens: round trip, forgery, tampering, garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.compose.tokens import TokenError, make_unsubscribe_token, verify_unsubscribe_token
from digest.errors import ConfigError, DigestError

SECRET = b"0123456789abcdef-test-secret"


def test_round_trip_and_url_safe() -> None:
    token = make_unsubscribe_token(SECRET, "Reader+tag@example.org")
    assert verify_unsubscribe_token(SECRET, token) == "Reader+tag@example.org"
    assert all(ch.isalnum() or ch in "-_." for ch in token)
    assert make_unsubscribe_token(SECRET, "Reader+tag@example.org") == token  # deterministic


def test_other_secret_is_refused() -> None:
    token = make_unsubscribe_token(SECRET, "a@example.org")
    with pytest.raises(TokenError, match="signature"):
        verify_unsubscribe_token(b"another-secret-of-16+bytes", token)


def test_swapping_the_address_is_refused() -> None:
    token_a = make_unsubscribe_token(SECRET, "a@example.org")
    token_b = make_unsubscribe_token(SECRET, "b@example.org")
    forged = token_b.split(".")[0] + "." + token_a.split(".")[1]
    with pytest.raises(TokenError):
        verify_unsubscribe_token(SECRET, forged)


@pytest.mark.parametrize(
    "token",
    ["", ".", "abc", "abc.", ".abc", "a b.c", "YQ.%%%", "x" * 5000, "é.é", "YQ==.YQ=="],
)
def test_garbage_is_a_digest_error(token: str) -> None:
    with pytest.raises(DigestError):
        verify_unsubscribe_token(SECRET, token)


def test_non_canonical_spelling_is_refused() -> None:
    token = make_unsubscribe_token(SECRET, "ab@example.org")
    email_part, tag = token.split(".")
    # Flip the unused low bits of the last character: decodes to the same bytes.
    last = email_part[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(TokenError):
        verify_unsubscribe_token(SECRET, f"{email_part[:-1]}{twin}.{tag}")


def test_short_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        make_unsubscribe_token(b"short", "a@example.org")


@given(st.text(min_size=1, max_size=80), st.integers(min_value=0, max_value=200))
def test_any_single_character_change_is_detected(email: str, position: int) -> None:
    token = make_unsubscribe_token(SECRET, email)
    assert verify_unsubscribe_token(SECRET, token) == email
    index = position % len(token)
    replacement = "A" if token[index] != "A" else "B"
    tampered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(TokenError):
        verify_unsubscribe_token(SECRET, tampered)
