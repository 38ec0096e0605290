"""Records a store keeps as one document, to and from plain JSON-able dicts: papers (also for
saved snapshots) and run reports.

Kept apart from the SQLite backend so a PostgreSQL store (or a cache file) reuses it unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from digest.models import (
    AnnounceType,
    DeliveryOutcome,
    DeliveryState,
    HFSignals,
    Paper,
    RunReport,
    SourceOutcome,
    SourceState,
    Undelivered,
)

_PAPER_FIELDS = tuple(f.name for f in fields(Paper))
_HF_FIELDS = tuple(f.name for f in fields(HFSignals))


def paper_to_dict(paper: Paper) -> dict[str, Any]:
    # Field by field, not dataclasses.asdict: that deep-copies every value, which made storing
    # a day's 1,500 papers cost more than parsing them. Tuples stay tuples (JSON lists).
    data = {name: getattr(paper, name) for name in _PAPER_FIELDS}
    if paper.hf is not None:
        data["hf"] = {name: getattr(paper.hf, name) for name in _HF_FIELDS}
    data["announce_type"] = paper.announce_type.value
    data["published"] = paper.published.isoformat() if paper.published else None
    # Drop empty values: rows stay small and old rows read back the same after new fields.
    return {k: v for k, v in data.items() if v not in (None, (), [], "")}


def paper_from_dict(data: Mapping[str, Any]) -> Paper:
    hf = data.get("hf")
    published = data.get("published")
    return Paper(
        id=data["id"],
        title=data["title"],
        abstract=data.get("abstract", ""),
        authors=tuple(data.get("authors", ())),
        url=data.get("url", ""),
        version=data.get("version"),
        categories=tuple(data.get("categories", ())),
        announce_type=AnnounceType(data.get("announce_type", "new")),
        published=dt.date.fromisoformat(published) if published else None,
        doi=data.get("doi"),
        journal_ref=data.get("journal_ref"),
        comments=data.get("comments"),
        pdf_url=data.get("pdf_url"),
        hf=HFSignals(**{**hf, "ai_keywords": tuple(hf.get("ai_keywords", ()))}) if hf else None,
        sources=tuple(data.get("sources", ())),
        shortened=tuple(data.get("shortened", ())),
    )


def paper_to_json(paper: Paper) -> str:
    return json.dumps(paper_to_dict(paper), ensure_ascii=False, separators=(",", ":"))


def paper_from_json(text: str) -> Paper:
    return paper_from_dict(json.loads(text))


def report_body(report: RunReport) -> dict[str, Any]:
    """What a run found, as a document; its times and day are columns of their own."""
    return {
        "sources": [
            {"name": s.name, "state": s.state.value, "papers": s.papers, "detail": s.detail}
            for s in report.sources
        ],
        "deliveries": [
            {
                "recipient": d.recipient,
                "state": d.state.value,
                "papers": d.papers,
                "detail": d.detail,
            }
            for d in report.deliveries
        ],
        "errors": list(report.errors),
        "notes": list(report.notes),
        "undelivered": [
            {
                "recipient": u.recipient,
                "day": u.day.isoformat(),
                "state": u.state.value,
                "detail": u.detail,
                "held": u.held,
            }
            for u in report.undelivered
        ],
    }


def report_from_body(
    body: Mapping[str, Any], *, started: dt.datetime, finished: dt.datetime, day: dt.date
) -> RunReport:
    # Every key has a default: rows written before a key existed read back as empty.
    return RunReport(
        started=started,
        finished=finished,
        day=day,
        sources=tuple(
            SourceOutcome(s["name"], SourceState(s["state"]), s["papers"], s["detail"])
            for s in body.get("sources", ())
        ),
        deliveries=tuple(
            DeliveryOutcome(d["recipient"], DeliveryState(d["state"]), d["papers"], d["detail"])
            for d in body.get("deliveries", ())
        ),
        errors=tuple(body.get("errors", ())),
        notes=tuple(body.get("notes", ())),
        undelivered=tuple(
            Undelivered(
                u["recipient"],
                dt.date.fromisoformat(u["day"]),
                DeliveryState(u["state"]),
                u["detail"],
                u["held"],
            )
            for u in body.get("undelivered", ())
        ),
    )
