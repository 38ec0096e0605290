"""The links digests carry for the pages, and the signed tokens behind them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "email"))
from email_helpers import typical_digest

from digest.compose.render import make_environment, render_digest
from digest.compose.signed import (
    LinkClaims,
    Purpose,
    TokenExpired,
    sign_link,
    verify_link,
)
from digest.compose.tokens import TokenError
from digest.config.settings import DEFAULT_SUBJECT, RenderSettings

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
OLD, NEW = b"o" * 32, b"n" * 32


def test_only_a_mailto_address_still_shows_an_unsubscribe_link() -> None:
    digest = dataclasses.replace(
        typical_digest(),
        unsubscribe_url=None,
        manage_url=None,
        unsubscribe_mailto="mailto:unsubscribe@example.org?subject=unsubscribe%20abc.def",
    )
    rendered = render_digest(digest, RenderSettings(DEFAULT_SUBJECT), make_environment())
    assert 'href="mailto:unsubscribe@example.org?subject=unsubscribe%20abc.def"' in rendered.html
    assert "Unsubscribe by email: mailto:unsubscribe@example.org" in rendered.text


def test_vote_links_sit_inside_each_paper_and_the_text_part() -> None:
    digest = typical_digest()
    first = digest.papers[0].paper.id
    links = ((first, "https://p.example.org/vote/up1", "https://p.example.org/vote/dn1"),)
    rendered = render_digest(
        dataclasses.replace(digest, feedback=links),
        RenderSettings(DEFAULT_SUBJECT),
        make_environment(),
    )
    assert rendered.html.count(">More like this</a>") == 1
    cell = rendered.html.split('href="https://p.example.org/vote/up1"')[0].rsplit("<td", 1)[1]
    assert "paper-title" in cell  # inside the paper's own cell
    assert "More like this: https://p.example.org/vote/up1" in rendered.text
    plain = render_digest(digest, RenderSettings(DEFAULT_SUBJECT), make_environment())
    assert "More like this" not in plain.html  # no links, no change to the email


def test_signed_links_are_bound_to_purpose_address_and_time() -> None:
    claims = LinkClaims(Purpose.MANAGE, "ann@example.org", NOW + dt.timedelta(days=1))
    token = sign_link(NEW, claims)
    assert verify_link([NEW], token, Purpose.MANAGE, NOW) == claims
    with pytest.raises(TokenError):
        verify_link([NEW], token, Purpose.CONFIRM, NOW)
    with pytest.raises(TokenExpired) as expired:
        verify_link([NEW], token, Purpose.MANAGE, NOW + dt.timedelta(days=2))
    assert expired.value.claims.email == "ann@example.org"
    with pytest.raises(TokenError):
        verify_link([OLD], token, Purpose.MANAGE, NOW)
    _, tag = token.split(".")
    other = sign_link(NEW, dataclasses.replace(claims, email="eve@example.org")).split(".")[0]
    with pytest.raises(TokenError):
        verify_link([NEW], f"{other}.{tag}", Purpose.MANAGE, NOW)


def test_the_previous_key_is_still_accepted_after_a_rotation() -> None:
    mailed = sign_link(OLD, LinkClaims(Purpose.VOTE, "ann@example.org", None, ("2401.1", "up")))
    assert verify_link([NEW, OLD], mailed, Purpose.VOTE, NOW).bound == ("2401.1", "up")
    with pytest.raises(TokenError):
        verify_link([NEW], mailed, Purpose.VOTE, NOW)
