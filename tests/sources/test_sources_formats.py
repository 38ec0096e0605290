"""What each parser must get right, stated explicitly (the golden files pin the rest)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import Counter
from collections.abc import Callable

import pytest

from digest.collect.sources import (
    PARSERS,
    arxiv_api,
    arxiv_list,
    arxiv_rss,
    feed,
    get_parser,
    hf,
    hf_page,
)
from digest.errors import ConfigError, FeedErrorReported, ParseError
from digest.models import AnnounceType, Paper

Read = Callable[[str], bytes]
RSS_ALL = "arxiv_rss_allarchives_2024-11-28_trimmed.xml"


def by_id(papers: tuple[Paper, ...]) -> dict[str, Paper]:
    return {p.id: p for p in papers}


# --- arXiv RSS ----------------------------------------------------------------------------


def test_rss_counts_per_announce_type(fixture_bytes: Read) -> None:
    papers = arxiv_rss.parse(fixture_bytes(RSS_ALL), "https://rss.arxiv.org/rss/cs")
    counts = Counter(p.announce_type for p in papers)
    assert counts == {AnnounceType.NEW: 22, AnnounceType.CROSS: 9, AnnounceType.REPLACE: 11}
    assert all(p.sources == () for p in papers)  # the pipeline stamps the source name


def test_rss_ids_versions_links_and_dates(fixture_bytes: Read) -> None:
    papers = by_id(arxiv_rss.parse(fixture_bytes(RSS_ALL), "u"))
    paper = papers["2211.02603"]
    assert paper.version == 4
    assert paper.announce_type is AnnounceType.REPLACE
    assert paper.url == "https://arxiv.org/abs/2211.02603"
    assert paper.pdf_url == "https://arxiv.org/pdf/2211.02603v4"
    assert paper.published == dt.date(2024, 11, 28)
    assert paper.categories == ("astro-ph.CO", "gr-qc", "hep-ph", "hep-th")  # primary first
    assert paper.doi == "10.1088/1475-7516/2023/01/030"
    assert paper.journal_ref == "JCAP 01 (2023) 030"
    assert all("v" not in pid for pid in papers)


def test_rss_authors_decode_tex_accents_and_drop_affiliations(fixture_bytes: Read) -> None:
    papers = by_id(arxiv_rss.parse(fixture_bytes(RSS_ALL), "u"))
    assert papers["2411.17775"].authors == ("Václav Vavryčuk",)
    assert papers["2411.17709"].authors[2:4] == ("Przemysław Olbratowski", "Paweł Niedbalski")
    assert papers["2411.17755"].authors[0] == "Dénes Berta"
    # "(IFPEN)", "(LEMTA)" are affiliations, not authors
    assert papers["2411.17748"].authors[:3] == (
        "Mohammed Riadh Berramdane",
        "Alexandre Battiston",
        "Michele Bardi",
    )


def test_rss_titles_and_abstracts_lose_their_tex(fixture_bytes: Read) -> None:
    papers = by_id(arxiv_rss.parse(fixture_bytes(RSS_ALL), "u"))
    assert papers["2411.17730"].title.endswith("for Schrödinger equation with potential")
    assert "ΛCDM model" in papers["2411.16046"].abstract
    assert "Announce Type" not in papers["2411.16046"].abstract
    for paper in papers.values():
        assert "\\" not in paper.title and "$" not in paper.title


def test_rss_replace_cross_and_and_separated_authors(fixture_bytes: Read) -> None:
    papers = arxiv_rss.parse(fixture_bytes("arxiv_rss_replace_cross_CONSTRUCTED.xml"), "u")
    first, old_style = papers
    assert first.announce_type is AnnounceType.REPLACE_CROSS
    assert first.title == "Schrödinger bridges for ΛCDM emulators"
    assert first.authors == ("José García", "Renée Müller", "Przemysław Nowak")
    assert "5% error at z ∼ 0.3" in first.abstract  # a bare % is not a TeX comment
    assert (old_style.id, old_style.version) == ("hep-th/9901001", 2)
    assert old_style.pdf_url == "https://arxiv.org/pdf/hep-th/9901001v2"


def test_rss_empty_day_is_an_empty_tuple(fixture_bytes: Read) -> None:
    assert arxiv_rss.parse(fixture_bytes("arxiv_rss_new_empty_feed.xml"), "u") == ()


def test_rss_feed_error_reports_arxivs_message(fixture_bytes: Read) -> None:
    url = "https://rss.arxiv.org/rss/astroph"
    with pytest.raises(FeedErrorReported) as caught:
        arxiv_rss.parse(fixture_bytes("arxiv_rss_new_error_feed.xml"), url)
    assert "Bad archive 'astroph'" in str(caught.value)
    assert caught.value.url == url


# --- arXiv API ----------------------------------------------------------------------------


def test_api_error_entry_raises_with_the_service_message(fixture_bytes: Read) -> None:
    with pytest.raises(FeedErrorReported, match="incorrect id format for abc"):
        arxiv_api.parse(fixture_bytes("arxiv_api_error_idlist_abc_2026-04-12_newformat.xml"), "u")


def test_api_no_results_is_empty(fixture_bytes: Read) -> None:
    name = "arxiv_api_idlist_0000.0000_notfound_2026-04-12_newformat.xml"
    assert arxiv_api.parse(fixture_bytes(name), "u") == ()


def test_api_old_format(fixture_bytes: Read) -> None:
    (paper,) = arxiv_api.parse(
        fixture_bytes("arxiv_api_idlist_1111.2011v2_2016_oldformat.xml"), "u"
    )
    assert (paper.id, paper.version) == ("1111.2011", 2)
    assert paper.announce_type is AnnounceType.REPLACE
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert "\n" not in paper.abstract and paper.abstract.startswith("Theoretical description")
    assert paper.categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert paper.doi == "10.1103/physrevb.85.115117"
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert paper.comments == "8 pages, 3 figures. Published version"
    assert paper.published == dt.date(2011, 11, 8)


def test_api_old_style_ids_and_new_format_primary_first(fixture_bytes: Read) -> None:
    old = arxiv_api.parse(
        fixture_bytes("arxiv_api_query_au_del_maestro_2016-10-09_oldformat.xml"), "u"
    )
    assert len(old) == 10
    assert "cond-mat/0412498" in {p.id for p in old}
    new = arxiv_api.parse(
        fixture_bytes("arxiv_api_query_cat_cs.AI_LG_CL_2026-08-02_newformat_trimmed.xml"), "u"
    )
    assert new[0].id == "2607.28628"
    assert new[0].categories == ("hep-th", "cs.AI", "cs.LG", "hep-ph")
    assert new[0].authors == (
        "Jonathan J. Heckman",
        "Shani Meynet",
        "Alessandro Mininno",
        "Gary Shiu",
    )


# --- Hugging Face -------------------------------------------------------------------------


def test_hf_2024_shape_titles_lose_line_breaks(fixture_bytes: Read) -> None:
    raw = json.loads(fixture_bytes("hf_api_daily_papers_2024-10-25_trimmed.json"))
    assert any("\n" in item["paper"]["title"] for item in raw)
    papers = hf.parse(fixture_bytes("hf_api_daily_papers_2024-10-25_trimmed.json"), "u")
    assert len(papers) == len(raw) == 6
    first = papers[0]
    assert first.title == (
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    )
    assert first.id == "2410.17243" and first.url == "https://arxiv.org/abs/2410.17243"
    assert first.hf is not None and first.hf.upvotes == 64 and first.hf.num_comments == 3
    assert first.hf.url == "https://huggingface.co/papers/2410.17243"
    assert first.hf.ai_summary is None and first.hf.ai_keywords == ()
    assert first.authors[0] == "Zesen Cheng"
    assert first.published == dt.date(2024, 10, 22)


def test_hf_2026_shape_keeps_every_signal(fixture_bytes: Read) -> None:
    papers = by_id(hf.parse(fixture_bytes("hf_api_daily_papers_2026-06-12_trimmed.json"), "u"))
    signals = papers["2606.10423"].hf
    assert signals is not None
    assert signals.github_repo == "https://github.com/jayoohwang1/webchallenger"
    assert signals.github_stars == 2
    assert signals.project_page == "https://jayoohwang1.github.io/webchallenger-site/"
    assert signals.ai_summary and signals.ai_keywords
    caltech = papers["2606.00467"].hf
    assert caltech is not None
    assert caltech.organization == "California institute of technology"
    assert (caltech.upvotes, caltech.num_comments) == (0, 2)


def test_hf_2026_07_has_no_ai_fields(fixture_bytes: Read) -> None:
    papers = hf.parse(fixture_bytes("hf_api_daily_papers_2026-07-31_trimmed.json"), "u")
    assert all(p.hf is not None and p.hf.ai_summary is None for p in papers)
    assert papers[0].hf is not None and papers[0].hf.github_stars == 5


def test_hf_page_carries_the_same_papers_as_the_api(fixture_bytes: Read) -> None:
    from_page = hf_page.parse(fixture_bytes("hf_papers_page_2026-05-08_CONSTRUCTED.html"), "u")
    from_api = hf.parse(fixture_bytes("hf_api_daily_papers_2026-05-08_trimmed.json"), "u")
    assert from_page == from_api[:3]


HF_PAGE = "hf_papers_page_2026-05-08_CONSTRUCTED.html"
HF_PAGE_URL = "https://huggingface.co/papers?date=2026-05-08"


def without_data_props(page: bytes) -> bytes:
    return re.sub(rb' data-props="[^"]*"', b"", page)


@pytest.mark.parametrize(
    "edit",
    [
        without_data_props,
        lambda page: page.replace(b'data-target="DailyPapers"', b'data-target="PaperList"'),
    ],
    ids=["no-data-props", "other-data-target"],
)
def test_hf_page_without_its_data_block_names_the_url(
    fixture_bytes: Read, edit: Callable[[bytes], bytes]
) -> None:
    with pytest.raises(ParseError, match='no data-target="DailyPapers" element') as caught:
        hf_page.parse(edit(fixture_bytes(HF_PAGE)), HF_PAGE_URL)
    assert caught.value.url == HF_PAGE_URL


def test_hf_page_data_cut_short_is_not_json(fixture_bytes: Read) -> None:
    page = fixture_bytes(HF_PAGE)
    start = page.index(b'data-props="') + len(b'data-props="')
    cut = page[: start + 2000] + page[page.index(b'"', start) :]  # the attribute truncated
    with pytest.raises(ParseError, match="data-props attribute is not valid JSON"):
        hf_page.parse(cut, HF_PAGE_URL)


def test_hf_page_data_without_the_papers_list(fixture_bytes: Read) -> None:
    page = fixture_bytes(HF_PAGE).replace(b"{&quot;dailyPapers&quot;:", b"{&quot;papers&quot;:")
    with pytest.raises(ParseError, match="no 'dailyPapers' list"):
        hf_page.parse(page, HF_PAGE_URL)


def test_hf_error_object_is_reported() -> None:
    with pytest.raises(FeedErrorReported, match="Invalid date"):
        hf.parse(b'{"error": "Invalid date"}', "https://huggingface.co/api/daily_papers")


def test_hf_bad_item_is_skipped_not_fatal(fixture_bytes: Read) -> None:
    items = json.loads(fixture_bytes("hf_api_daily_papers_2026-07-31_trimmed.json"))
    broken = [{"paper": {"id": "not-an-id"}}, 42, *items]
    papers = hf.parse(json.dumps(broken).encode(), "u")
    assert len(papers) == len(items)


# --- arXiv listing pages ------------------------------------------------------------------


def test_list_recent_page(fixture_bytes: Read) -> None:
    url = "https://arxiv.org/list/cs.CL/recent"
    papers = arxiv_list.parse(fixture_bytes("arxiv_list_cs.CL_recent_2026-07-28_trimmed.html"), url)
    assert len(papers) == 17
    assert Counter(p.published for p in papers) == {
        dt.date(2026, 7, 27): 14,
        dt.date(2026, 7, 24): 3,
    }
    index = by_id(papers)
    survey = index["2607.21608"]
    assert survey.announce_type is AnnounceType.CROSS
    assert survey.categories == ("cs.SE", "cs.AI", "cs.CL", "cs.CY")
    assert survey.title.startswith("From Obligation to Specification")
    assert index["2607.22376"].authors[2] == "Lena Jäger"
    assert index["2607.22376"].comments == "Accepted at CLiC-it 2026"
    assert index["2607.22529"].announce_type is AnnounceType.NEW
    assert index["2607.21574"].comments == 'Under "Review" at ARR'


def test_list_new_page_sections(fixture_bytes: Read) -> None:
    url = "https://arxiv.org/list/cs.CL/new"
    papers = arxiv_list.parse(fixture_bytes("arxiv_list_cs.CL_new_CONSTRUCTED.html"), url)
    assert [(p.id, p.announce_type.value) for p in papers] == [
        ("2607.22529", "new"),
        ("2607.22456", "new"),
        ("2607.21608", "cross"),
        ("2601.00001", "replace"),
        ("2601.00002", "replace-cross"),
    ]
    assert (
        papers[0].abstract
        == "We study self-play with α-weighted skills in Schrödinger-style bridges."
    )
    assert papers[1].journal_ref == "Proc. LREC 2026, 1-10"
    assert all(p.published == dt.date(2026, 7, 28) for p in papers)


RECENT = "arxiv_list_cs.CL_recent_2026-07-28_trimmed.html"
RECENT_URL = "https://arxiv.org/list/cs.CL/recent"


def test_list_page_without_dlpage_names_the_url(fixture_bytes: Read) -> None:
    page = fixture_bytes(RECENT).replace(b"<div id='dlpage'>", b"<div>")
    with pytest.raises(ParseError, match="no 'dlpage' section") as caught:
        arxiv_list.parse(page, RECENT_URL)
    assert caught.value.url == RECENT_URL


def test_list_recent_entries_have_no_abstract_and_lose_their_descriptors(
    fixture_bytes: Read,
) -> None:
    papers = arxiv_list.parse(fixture_bytes(RECENT), RECENT_URL)
    assert all(p.abstract == "" for p in papers)  # /recent shows no abstracts
    labels = ("Title:", "Comments:", "Journal-ref:", "Subjects:")
    fields = [f for p in papers for f in (p.title, p.comments, p.journal_ref) if f]
    assert len(fields) == 17 + 9  # every title, nine comments, no journal reference
    assert not [f for f in fields if f.startswith(labels) or "\n" in f or "  " in f]


def test_list_new_entry_without_abstract_keeps_its_other_fields(fixture_bytes: Read) -> None:
    page = fixture_bytes("arxiv_list_cs.CL_new_CONSTRUCTED.html")
    page = page.replace(b"<p class='mathjax'>A toolkit.</p>", b"")
    papers = arxiv_list.parse(page, "https://arxiv.org/list/cs.CL/new")
    assert len(papers) == 5
    assert papers[1].id == "2607.22456" and papers[1].abstract == ""
    assert papers[1].journal_ref == "Proc. LREC 2026, 1-10"
    assert papers[2].abstract == "A survey."  # the next entry keeps its own


def test_list_bad_entry_is_skipped_and_logged(
    fixture_bytes: Read, caplog: pytest.LogCaptureFixture
) -> None:
    page = fixture_bytes(RECENT).replace(
        b'<a href ="/abs/2607.22456" title="Abstract" id="2607.22456">', b"<a>"
    )
    with caplog.at_level(logging.WARNING, logger="digest.sources"):
        papers = arxiv_list.parse(page, RECENT_URL)
    assert len(papers) == 16 and "2607.22456" not in {p.id for p in papers}
    assert papers[0].id == "2607.22529" and papers[1].id == "2607.22376"
    [record] = caplog.records
    assert RECENT_URL in record.getMessage() and "2607.22456" in record.getMessage()


def test_list_no_updates_is_empty(fixture_bytes: Read) -> None:
    name = "arxiv_list_cs.CL_new_no_updates_CONSTRUCTED.html"
    assert arxiv_list.parse(fixture_bytes(name), "https://arxiv.org/list/cs.CL/new") == ()


# --- generic feeds ------------------------------------------------------------------------


def test_feed_journal_dois_and_link_hashes(fixture_bytes: Read) -> None:
    article, editorial = feed.parse(fixture_bytes("feed_journal_rss1_CONSTRUCTED.xml"), "u")
    assert article.id == "doi:10.1038/s41586-026-01234-5"
    assert article.title == "Quantum Schrödinger bridges"
    assert article.abstract == "We study bridges at 5% cost. Second paragraph."
    assert article.authors == ("Ana Pérez", "B. Müller")
    assert article.journal_ref == "Example Journal 612"
    assert editorial.id.startswith("url:") and len(editorial.id) == 20
    assert editorial.doi is None


def test_feed_recognises_doi_ids_and_arxiv_links(fixture_bytes: Read) -> None:
    letter, preprint = feed.parse(fixture_bytes("feed_journal_atom_CONSTRUCTED.xml"), "u")
    assert letter.id == "doi:10.5555/letters.2026.042"
    assert letter.title == "Fast transformers for O(n) attention"
    assert (preprint.id, preprint.version) == ("2607.22529", 2)
    assert preprint.url == "https://arxiv.org/abs/2607.22529"


def test_feed_reads_arxiv_rss_like_the_dedicated_parser(fixture_bytes: Read) -> None:
    data = fixture_bytes("arxiv_rss_cs.AI_2026-04-27_EXCERPT_3items.xml")
    generic, dedicated = feed.parse(data, "u"), arxiv_rss.parse(data, "u")
    assert [p.id for p in generic] == [p.id for p in dedicated]
    assert [p.abstract for p in generic] == [p.abstract for p in dedicated]
    assert [p.authors for p in generic] == [p.authors for p in dedicated]


def test_feed_error_feed_is_reported(fixture_bytes: Read) -> None:
    with pytest.raises(FeedErrorReported, match="Bad archive"):
        feed.parse(fixture_bytes("arxiv_rss_new_error_feed.xml"), "u")


# --- wrong formats and the registry -------------------------------------------------------

HTML_ERROR_PAGE = b"<!DOCTYPE html>\n<html><head><title>503</title></head><body>Down</body></html>"


def test_html_where_json_was_expected_says_so() -> None:
    with pytest.raises(ParseError) as caught:
        hf.parse(HTML_ERROR_PAGE, "https://huggingface.co/api/daily_papers")
    message = str(caught.value)
    assert "expected JSON from the Hugging Face API but got an HTML page" in message
    assert "'<!DOCTYPE html>" in message
    assert caught.value.url == "https://huggingface.co/api/daily_papers"


@pytest.mark.parametrize("kind", ["arxiv_rss", "arxiv_api", "feed"])
def test_html_where_xml_was_expected_says_so(kind: str) -> None:
    with pytest.raises(ParseError, match="but got an HTML page"):
        get_parser(kind)(HTML_ERROR_PAGE, "https://example.org/x")


def test_formats_swapped_are_parse_errors(fixture_bytes: Read) -> None:
    rss = fixture_bytes("arxiv_rss_cs.AI_2026-04-27_EXCERPT_3items.xml")
    api = fixture_bytes("arxiv_api_query_transformer_cs.LG_2026-06-14_newformat.xml")
    with pytest.raises(ParseError, match="root is <rss>"):
        arxiv_api.parse(rss, "u")
    with pytest.raises(ParseError, match="expected an arXiv RSS feed"):
        arxiv_rss.parse(api, "u")
    with pytest.raises(ParseError, match="expected JSON"):
        hf.parse(rss, "u")
    with pytest.raises(ParseError, match="no 'dlpage'"):
        arxiv_list.parse(HTML_ERROR_PAGE, "u")
    with pytest.raises(ParseError, match="DailyPapers"):
        hf_page.parse(HTML_ERROR_PAGE, "u")


def test_registry_knows_every_kind_and_names_them_on_a_typo() -> None:
    assert set(PARSERS) == {"hf_daily", "hf_page", "arxiv_rss", "arxiv_list", "arxiv_api", "feed"}
    # each parser is wrapped to cap its papers' fields (digest.collect.normalise.cap_fields)
    assert get_parser("arxiv_rss").__wrapped__ is arxiv_rss.parse  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as caught:
        get_parser("arxiv_rs")
    assert "'arxiv_rs'" in str(caught.value)
    assert "arxiv_rss" in str(caught.value) and "hf_daily" in str(caught.value)
