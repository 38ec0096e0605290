"""Arbitrary and mutated bytes through every parser: ParseError is the only way to fail."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.collect.latex import latex_to_text
from digest.collect.sources import PARSERS
from digest.errors import ParseError
from digest.models import Paper

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Small real samples of each format to mutate (the big ones would slow every example).
SAMPLES = {
    "hf_daily": "hf_api_daily_papers_2026-07-31_trimmed.json",
    "hf_page": "hf_papers_page_2026-05-08_CONSTRUCTED.html",
    "arxiv_rss": "arxiv_rss_replace_cross_CONSTRUCTED.xml",
    "arxiv_list": "arxiv_list_cs.CL_new_CONSTRUCTED.html",
    "arxiv_api": "arxiv_api_idlist_1111.2011v2_2016_oldformat.xml",
    "feed": "feed_journal_atom_CONSTRUCTED.xml",
}
SAMPLE_BYTES = {kind: (FIXTURES / name).read_bytes() for kind, name in SAMPLES.items()}
KINDS = sorted(PARSERS)
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_parse_error(kind: str, data: bytes) -> None:
    try:
        papers = PARSERS[kind](data, "https://example.org/fuzz")
    except ParseError:
        return
    assert isinstance(papers, tuple)
    assert all(isinstance(p, Paper) and p.id for p in papers)


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    """A real sample with a few byte-level edits: deletions, insertions, truncation."""
    data = bytearray(SAMPLE_BYTES[kind])
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["delete", "insert", "flip", "truncate"]))
        if action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "insert":
            data[at:at] = draw(
                st.sampled_from([b"<", b">", b"&", b'"', b"{", b"}", b"\\", b"$", b"\xff", b"\x00"])
                | st.binary(max_size=8)
            )
        elif action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        else:
            del data[at:]
    return bytes(data)


@pytest.mark.parametrize("kind", KINDS)
@PROFILE
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(kind: str, data: bytes) -> None:
    parse_or_parse_error(kind, data)


@pytest.mark.parametrize("kind", KINDS)
@PROFILE
@given(data=st.data())
def test_mutated_real_documents(kind: str, data: st.DataObject) -> None:
    parse_or_parse_error(kind, data.draw(mutated(kind)))


@pytest.mark.parametrize("kind", KINDS)
@PROFILE
@given(other=st.sampled_from(sorted(SAMPLES)))
def test_other_formats(kind: str, other: str) -> None:
    parse_or_parse_error(kind, SAMPLE_BYTES[other])


# What an HTML parser may be handed instead of a page: the other formats' real samples, and
# the URL-like or file-name-like text BeautifulSoup would warn about.
NOT_PAGES = {
    **{kind: data for kind, data in SAMPLE_BYTES.items() if kind not in ("arxiv_list", "hf_page")},
    "url": b"https://arxiv.org/list/cs.CL/new",
    "file name": b"arxiv_list_cs.CL_new.html",
}


@pytest.mark.parametrize("kind", ["arxiv_list", "hf_page"])
@pytest.mark.parametrize("other", sorted(NOT_PAGES))
def test_html_parsers_refuse_what_is_no_page_without_warnings(kind: str, other: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ParseError) as caught:
            PARSERS[kind](NOT_PAGES[other], "https://example.org/not-a-page")
    assert caught.value.url == "https://example.org/not-a-page"


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(list("\\${}~^_'`\"-%[]*ab cvlL\u00e9\n"))
        | st.sampled_from([r"\frac", r"\begin", r"\href", r"\'", r"\v", r"\mathbb", r"\item"]),
        max_size=40,
    ).map("".join)
)
def test_latex_to_text_is_total(text: str) -> None:
    assert isinstance(latex_to_text(text), str)
