"""Saved listings: `digest fetch --save DIR` writes them, `digest preview --from DIR` reads them.

A snapshot is a folder of the raw bytes each source returned plus `manifest.json` saying
which source, kind, URL and day each file is, so a preview from it goes through exactly the
same parsers as a live run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from digest.collect.fetched import FetchResult
from digest.collect.listings import Listing, ListingRequest
from digest.config.settings import SourceConfig
from digest.errors import ConfigError, FetchError
from digest.models import AnnounceType, Validators

MANIFEST = "manifest.json"
_EXTENSIONS = {"hf_daily": ".json", "hf_page": ".html", "arxiv_list": ".html"}


@dataclass(frozen=True, slots=True)
class SavedListing:
    source: SourceConfig
    url: str
    day: dt.date
    file: Path


def save_snapshot(directory: Path, listings: list[Listing]) -> list[Path]:
    """Write each fetched body and the manifest. Failed listings are left out."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    written = []
    for listing in listings:
        if listing.result is None or listing.result.not_modified:
            continue
        request = listing.request
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.source.name}-{request.day}")
        name = stem + _EXTENSIONS.get(request.source.kind, ".xml")
        (directory / name).write_bytes(listing.result.body)
        written.append(directory / name)
        entries.append(
            {
                "source": request.source.name,
                "kind": request.source.kind,
                "url": request.url,
                "day": request.day.isoformat(),
                "file": name,
                "announce_types": sorted(t.value for t in request.source.announce_types),
            }
        )
    manifest = {
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "listings": entries,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return written


def load_snapshot(directory: Path) -> list[SavedListing]:
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = manifest["listings"]
    except FileNotFoundError as err:
        raise ConfigError(
            "no manifest.json here: not a snapshot saved by `digest fetch --save`",
            path=str(directory),
        ) from err
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"unreadable snapshot manifest: {err}", path=str(manifest_path)) from err
    saved = []
    for index, entry in enumerate(entries):
        try:
            types = frozenset(
                AnnounceType(t) for t in entry.get("announce_types", ["new", "cross"])
            )
            source = SourceConfig(
                name=entry["source"], kind=entry["kind"], url=entry["url"], announce_types=types
            )
            saved.append(
                SavedListing(
                    source,
                    entry["url"],
                    dt.date.fromisoformat(entry["day"]),
                    _inside(directory, entry["file"], manifest_path, index),
                )
            )
        except (KeyError, ValueError, TypeError) as err:
            raise ConfigError(
                f"listing {index + 1} is incomplete or wrong: {err}", path=str(manifest_path)
            ) from err
    return saved


def _inside(directory: Path, name: str, manifest: Path, index: int) -> Path:
    """The listing file, refused unless it lies inside the snapshot folder (after following
    links): a manifest must not make a preview read, and quote, any file on the machine."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"listing {index + 1} names no file", path=str(manifest))
    folder = directory.resolve()
    file = (folder / name).resolve()
    if Path(name).is_absolute() or not file.is_relative_to(folder):
        raise ConfigError(
            f"listing {index + 1} names {name!r}, which is outside the snapshot folder {folder}",
            path=str(manifest),
        )
    return file


def snapshot_requests(saved: list[SavedListing]) -> list[ListingRequest]:
    return [ListingRequest(s.source, s.url, s.day) for s in saved]


def snapshot_reader(saved: list[SavedListing]) -> SnapshotReader:
    return SnapshotReader({s.url: s.file for s in saved})


class SnapshotReader:
    """Serves saved bodies in place of HTTP, with the same result type the fetcher returns."""

    def __init__(self, files: dict[str, Path]) -> None:
        self._files = files

    def __call__(self, request: ListingRequest) -> FetchResult:
        path = self._files[request.url]
        try:
            body = path.read_bytes()
        except OSError as err:
            raise FetchError(
                f"cannot read saved listing {path}: {err.strerror}", url=request.url
            ) from err
        return FetchResult(
            url=request.url, status=200, body=body, validators=Validators(), content_type=None
        )
