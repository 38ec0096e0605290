"""Hand-built digests and a real SMTP server for the email tests (unique module name)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections.abc import Sequence
from email.message import EmailMessage

from digest.models import (
    AnnounceType,
    Digest,
    Field,
    HFSignals,
    Match,
    Paper,
    Profile,
    Ranked,
    SourceOutcome,
    SourceState,
    Subscriber,
    Term,
    Topic,
)

DAY = dt.date(2024, 3, 5)

# --- Digest factory ------------------------------------------------------------------------


def spans_of(text: str, needle: str) -> tuple[tuple[int, int], ...]:
    """Every case-insensitive occurrence of needle in text, as (start, end) offsets."""
    lower, target = text.lower(), needle.lower()
    found: list[tuple[int, int]] = []
    start = lower.find(target)
    while start != -1:
        found.append((start, start + len(target)))
        start = lower.find(target, start + 1)
    return tuple(found)


def make_paper(
    n: int = 1,
    *,
    title: str | None = None,
    abstract: str | None = None,
    authors: Sequence[str] = ("Ada Lovelace", "Alan Turing"),
    categories: Sequence[str] = ("cs.LG", "stat.ML"),
    announce_type: AnnounceType = AnnounceType.NEW,
    hf: HFSignals | None = None,
    version: int | None = 1,
    paper_id: str | None = None,
) -> Paper:
    pid = paper_id or f"2403.{n:05d}"
    return Paper(
        id=pid,
        title=title if title is not None else f"Score matching for diffusion models, part {n}",
        abstract=abstract
        if abstract is not None
        else (
            "We study diffusion models trained with denoising score matching. "
            "Our analysis covers sampling, guidance and distillation, and we report "
            f"results on image benchmarks (experiment {n})."
        ),
        authors=tuple(authors),
        url=f"https://arxiv.org/abs/{pid}",
        version=version,
        categories=tuple(categories),
        announce_type=announce_type,
        published=DAY,
        hf=hf,
        sources=("arxiv",),
    )


def make_ranked(
    paper: Paper,
    *,
    terms: Sequence[str] = ("diffusion models", "score matching"),
    topic: str = "Diffusion",
    score: float = 1.0,
    updated: bool = False,
    note: str = "",
) -> Ranked:
    """Rank a paper by finding `terms` in its title and abstract, like the ranker would."""
    matches: list[Match] = []
    for term in terms:
        for fld, text in ((Field.TITLE, paper.title), (Field.ABSTRACT, paper.abstract)):
            spans = spans_of(text, term)
            if spans:
                matches.append(Match(term=term, field=fld, topic=topic, spans=spans))
    return Ranked(
        paper=paper, score=score, matches=tuple(matches), topic=topic, updated=updated, note=note
    )


def make_profile() -> Profile:
    return Profile(
        topics=(
            Topic("Diffusion", (Term("diffusion models"), Term("score matching"))),
            Topic("Retrieval", (Term("retrieval"),)),
        ),
        exclude=("medical imaging",),
        authors=("Yang Song",),
        categories=("cs.LG", "stat.ML"),
    )


def make_subscriber(email_address: str = "reader@example.org") -> Subscriber:
    return Subscriber(email=email_address, profile=make_profile(), id=7)


def make_digest(
    papers: Sequence[Ranked],
    *,
    overflow: Sequence[Ranked] = (),
    subscriber: Subscriber | None = None,
    seen: int = 412,
    matched: int | None = None,
    sources: Sequence[SourceOutcome] = (
        SourceOutcome("arXiv", SourceState.OK, papers=380),
        SourceOutcome("Hugging Face", SourceState.FAILED, detail="HTTP 503 from huggingface.co"),
    ),
    day: dt.date = DAY,
) -> Digest:
    return Digest(
        subscriber=subscriber or make_subscriber(),
        day=day,
        papers=tuple(papers),
        overflow=tuple(overflow),
        seen_count=seen,
        matched_count=matched if matched is not None else len(papers) + len(overflow),
        sources=tuple(sources),
        unsubscribe_url="https://digest.example.org/unsubscribe/TOKEN123",
        manage_url="https://digest.example.org/manage/TOKEN123",
    )


def typical_digest() -> Digest:
    """Two topics, HF signals, a cross-list, an updated paper and two overflow papers."""
    hf = HFSignals(
        upvotes=86,
        github_repo="https://github.com/example/score-sde",
        github_stars=1200,
        url="https://huggingface.co/papers/2403.00001",
    )
    p1 = make_ranked(make_paper(1, hf=hf), score=3.0)
    p2 = make_ranked(
        make_paper(
            2,
            title="Dense retrieval without an index: agentic search over raw text",
            abstract="Retrieval systems expose a corpus through a fixed similarity interface. "
            "We let an agent grep the corpus directly, which beats dense retrieval baselines.",
            authors=("Zhuofeng Li", "Haoxiang Zhang", "Cong Wei", "Pan Lu", "Ping Nie", "Yi Lu"),
            categories=("cs.IR", "cs.CL"),
            announce_type=AnnounceType.CROSS,
        ),
        terms=("retrieval",),
        topic="Retrieval",
        score=2.0,
    )
    p3 = make_ranked(
        make_paper(
            3,
            title="Schrödinger bridges and score matching on manifolds",
            abstract="We extend score matching to Riemannian manifolds with Λ-CDM priors. " * 12,
            authors=("André Müller", "Zoë Ñúñez"),
        ),
        score=1.5,
        note="followed author",
    )
    p4 = make_ranked(
        make_paper(4, version=3, announce_type=AnnounceType.REPLACE),
        updated=True,
        score=1.2,
    )
    overflow = [
        make_ranked(make_paper(5), score=0.5),
        make_ranked(make_paper(6, title="A short note on diffusion models"), score=0.4),
    ]
    return make_digest([p1, p2, p3, p4], overflow=overflow, matched=9)


def hostile_digest() -> Digest:
    """Feed data trying header injection, HTML injection and hostile links."""
    evil = make_paper(
        1,
        title="Diffusion models\r\nBcc: victim@evil.example\r\n<script>alert(1)</script>",
        abstract='Score matching <img src=x onerror="alert(2)"> & "quotes" </p></td></table>',
        authors=("Mallory <mallory@evil.example>", "Eve\r\nX-Injected: yes", "<b>Bob</b>"),
        categories=("cs.LG<script>",),
        hf=HFSignals(
            upvotes=3,
            github_repo="javascript:alert(3)",
            project_page='https://example.org/" onmouseover="alert(4)',
            url="https://huggingface.co/papers/2403.00001",
        ),
    )
    return make_digest(
        [make_ranked(evil, terms=("diffusion models", "score matching", "<script>"))],
        sources=(SourceOutcome("arXiv <b>", SourceState.NO_ANNOUNCEMENT),),
        subscriber=make_subscriber("reader+tag@example.org"),
    )


def empty_digest() -> Digest:
    """An arXiv holiday: nothing announced, nothing matched."""
    return make_digest(
        [],
        seen=0,
        matched=0,
        sources=(
            SourceOutcome("arXiv", SourceState.NO_ANNOUNCEMENT, detail="holiday"),
            SourceOutcome("Hugging Face", SourceState.OK, papers=0),
        ),
    )


def many_papers_digest(count: int) -> Digest:
    papers = [
        make_ranked(make_paper(i, abstract=(make_paper(i).abstract + " ") * 4), score=1000 - i)
        for i in range(1, count + 1)
    ]
    return make_digest(papers)


# --- Parsing what the server received ------------------------------------------------------


def parse_message(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def part_text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


# --- A real SMTP server on 127.0.0.1 -------------------------------------------------------


def html_as_sent(html: str) -> str:
    """What the HTML part must equal after transport: non-ASCII as character references (the
    renderer already writes them so) and line breaks folded (both lossless in HTML),
    compared with the references read back and whitespace runs collapsed."""
    return html_as_received(html)


def html_as_received(html: str) -> str:
    return " ".join(readable(html).split())


def readable(html: str) -> str:
    """The HTML with the character references of non-ASCII characters read back."""
    return re.sub(r"&#(\d+);", lambda m: chr(int(m[1])) if int(m[1]) > 127 else m[0], html)
