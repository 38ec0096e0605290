"""Canonical ids, arXiv id parsing, TeX to Unicode, whitespace and author splitting."""

from __future__ import annotations

import hashlib

import pytest

from digest.collect.latex import latex_to_text as fast_latex
from digest.collect.normalise import (
    canonical_id,
    clean_text,
    latex_to_text,
    normalise_doi,
    split_arxiv_version,
    tex_text,
)
from digest.collect.sources._common import split_authors


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2401.01234", ("2401.01234", None)),
        ("arXiv:2401.01234v3", ("2401.01234", 3)),
        ("ARXIV:2401.01234V3", ("2401.01234", 3)),
        ("https://arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
        ("http://arxiv.org/pdf/2401.01234v12.pdf", ("2401.01234", 12)),
        ("https://export.arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("oai:arXiv.org:2411.17700v1", ("2411.17700", 1)),
        ("0704.0001v1", ("0704.0001", 1)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("http://arxiv.org/abs/cond-mat/0412498v1", ("cond-mat/0412498", 1)),
        ("math.GT/0309136v2", ("math/0309136", 2)),  # the subject class is not identity
        ("oai:arXiv.org:hep-th/9901001v2", ("hep-th/9901001", 2)),
    ],
)
def test_split_arxiv_version(raw: str, expected: tuple[str, int | None]) -> None:
    assert split_arxiv_version(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "abc", "10.1103/PhysRevB.85.115117", "https://example.org/abs/2401.01234", "2401"]
)
def test_split_arxiv_version_rejects_non_ids(raw: str) -> None:
    with pytest.raises(ValueError, match="not an arXiv identifier"):
        split_arxiv_version(raw)


def test_canonical_id_prefers_arxiv_then_doi_then_link() -> None:
    assert canonical_id(arxiv_id="arXiv:2401.01234v3", doi="10.1/x") == "2401.01234"
    assert canonical_id(arxiv_id="hep-th/9901001v2") == "hep-th/9901001"
    assert canonical_id(doi="https://doi.org/10.1103/PhysRevB.85.115117") == (
        "doi:10.1103/physrevb.85.115117"
    )
    assert canonical_id(doi="doi:10.1103/PhysRevB.85.115117", link="https://x.org/a") == (
        "doi:10.1103/physrevb.85.115117"
    )
    link = "https://journal.example.org/articles/42"
    expected = "url:" + hashlib.sha256(link.encode()).hexdigest()[:16]
    assert canonical_id(link=link) == expected


def test_canonical_id_normalises_links_before_hashing() -> None:
    one = canonical_id(link="HTTP://Journal.Example.org/articles/42/#comments")
    assert one == canonical_id(link="https://journal.example.org/articles/42")
    assert one != canonical_id(link="https://journal.example.org/articles/43")


def test_canonical_id_reads_arxiv_and_doi_links() -> None:
    assert canonical_id(link="https://arxiv.org/abs/2401.01234v5") == "2401.01234"
    assert canonical_id(link="https://doi.org/10.1038/S41586-0") == "doi:10.1038/s41586-0"


def test_canonical_id_needs_something() -> None:
    with pytest.raises(ValueError):
        canonical_id()
    with pytest.raises(ValueError):
        canonical_id(arxiv_id="nonsense", doi="not a doi", link="   ")


def test_normalise_doi() -> None:
    assert normalise_doi(" DOI: 10.1016/J.Dark.2024.101730 ") == "10.1016/j.dark.2024.101730"
    assert normalise_doi("http://dx.doi.org/10.1142/S021797921244002X") == (
        "10.1142/s021797921244002x"
    )
    assert normalise_doi("no doi here") is None


@pytest.mark.parametrize(
    ("tex", "text"),
    [
        (r"Schr\"odinger", "Schrödinger"),
        (r"Andr\'e", "André"),
        (r"$\Lambda$CDM", "ΛCDM"),
        (r"V\'aclav Vavry\v{c}uk", "Václav Vavryčuk"),
        (r"Przemys{\l}aw", "Przemysław"),
        (r"Jaros{\l}aw \.Zygierewicz", "Jarosław Żygierewicz"),
        (r"Garc\'{\i}a", "García"),
        (r"{\"U}ber", "Über"),
        (r"$z \sim 0.3$", "z ∼ 0.3"),
        (r"$\mathbb{R}^4$", "ℝ^4"),
        (r"$\frac{a}{b}$", "a/b"),
        (r"\textbf{adaptive} and \emph{fast}", "adaptive and fast"),
        (r"50\% faster, 5% cheaper", "50% faster, 5% cheaper"),
        (r"costs $5 only", "costs $5 only"),  # one unpaired dollar is a dollar
        (r"pages 10--20 --- \emph{done}", "pages 10–20 — done"),
        ("pages 10--20", "pages 10--20"),  # no TeX marker: the fast path leaves it alone
        (r"see \url{https://x.org/a_b}", "see https://x.org/a_b"),
        (r"\href{https://x.org}{our code}", "our code"),
        (r"as shown \cite{smith2020}.", "as shown ."),
        ("plain text stays", "plain text stays"),
    ],
)
def test_latex_to_text(tex: str, text: str) -> None:
    assert latex_to_text(tex) == text


@pytest.mark.parametrize(
    "tex",
    [
        r"\begin{itemize}\item one \item two\end{itemize}",
        r"\unknownmacro{kept words}",
        "{" * 5000 + "deep",
        r"$unclosed {math",
        "\\",
        r"\frac{",
        r"\href{",
        r"\'",
    ],
)
def test_latex_to_text_never_raises_and_keeps_words(tex: str) -> None:
    result = latex_to_text(tex)
    assert isinstance(result, str)
    for word in ("kept", "words", "deep", "unclosed", "one", "two"):
        if word in tex:
            assert word in result


def test_latex_fast_path_returns_the_same_object() -> None:
    text = "No TeX here: 50% of 3 < 4 & 'quotes' -- stay."
    assert fast_latex(text) is text


def test_clean_text_and_tex_text() -> None:
    assert clean_text("  Scaling for\n  Contrastive\tLoss ") == "Scaling for Contrastive Loss"
    assert clean_text("already clean") == "already clean"
    assert clean_text("non\u00a0breaking") == "non breaking"
    assert tex_text("  A $\\Lambda$CDM\n  model ") == "A ΛCDM model"
    assert tex_text(None) == ""


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("Jun Cui", ("Jun Cui",)),
        ("A. One, B. Two and C. Three", ("A. One", "B. Two", "C. Three")),
        ("A. One, B. Two, and C. Three", ("A. One", "B. Two", "C. Three")),
        (
            "Jadelynn Dao (Andrew and Peggy Cherng Dept., Caltech, USA), Ruixiao Liu (Caltech)",
            ("Jadelynn Dao", "Ruixiao Liu"),
        ),
        ("Aaron B. Pearlman (for The CHIME/FRB Collaboration)", ("Aaron B. Pearlman",)),
        ("John Smith, Jr., Ann Lee", ("John Smith, Jr.", "Ann Lee")),
        ("Sandra Anderson, Andy Brand", ("Sandra Anderson", "Andy Brand")),
        (" , ", ()),
    ],
)
def test_split_authors(raw: str, names: tuple[str, ...]) -> None:
    assert split_authors(raw) == names
