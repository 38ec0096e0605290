"""Unsubscribe tokens: round trip, forgery, tampering, garbage; the HMAC states they share
with the signed links give the tags hmac.new gives, so links already mailed keep working."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.compose.hmacs import KeyedHmac
from digest.compose.signed import LinkClaims, Purpose, sign_link, verify_link
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


# Made by the code before the keyed HMAC states (hmac.new per tag): links already mailed.
MAILED_UNSUBSCRIBE = "cmVhZGVyQGV4YW1wbGUub3Jn.md2XMEHZqPRl4APJ5I13lPDBWzT3-RrfYH_eS_DRMxA"
MAILED_VOTES = {
    SECRET: ("up", "dm90ZQpyZWFkZXJAZXhhbXBsZS5vcmcKCjI0MTEuMDEyMzQKdXA.C3AOst-FEdyaewL48auoqA"),
    b"k" * 100: (
        "down",
        "dm90ZQpyZWFkZXJAZXhhbXBsZS5vcmcKCjI0MTEuMDEyMzQKZG93bg.3JGB0ieesjnra-H7eo_AJw",
    ),
}


def test_links_mailed_before_keep_their_tokens() -> None:
    assert make_unsubscribe_token(SECRET, "reader@example.org") == MAILED_UNSUBSCRIBE
    assert verify_unsubscribe_token(SECRET, MAILED_UNSUBSCRIBE) == "reader@example.org"
    now = dt.datetime(2026, 5, 8, tzinfo=dt.UTC)
    for key, (vote, token) in MAILED_VOTES.items():
        claims = LinkClaims(Purpose.VOTE, "reader@example.org", None, ("2411.01234", vote))
        assert sign_link(key, claims) == token
        assert verify_link([key], token, Purpose.VOTE, now) == claims


@given(st.binary(max_size=200), st.binary(max_size=80), st.lists(st.binary(max_size=300)))
def test_keyed_states_tag_as_hmac_new_does(
    key: bytes, context: bytes, messages: list[bytes]
) -> None:
    keyed = KeyedHmac(key, context)
    for message in messages:  # the states are copied, never used up
        assert keyed.tag(message) == hmac.new(key, context + message, hashlib.sha256).digest()
