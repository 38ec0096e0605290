"""Papers to and from plain JSON-able dicts, for the store and for saved snapshots.

Kept apart from the store so a future PostgreSQL store (or a cache file) reuses it unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from digest.models import AnnounceType, HFSignals, Paper


def paper_to_dict(paper: Paper) -> dict[str, Any]:
    data = asdict(paper)
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
    )


def paper_to_json(paper: Paper) -> str:
    return json.dumps(paper_to_dict(paper), ensure_ascii=False, separators=(",", ":"))


def paper_from_json(text: str) -> Paper:
    return paper_from_dict(json.loads(text))
