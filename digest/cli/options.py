"""What several subcommands read from their arguments the same way: the settings (and the
logging they ask for), the clock (--now), the profile options, the progress counter. Light
on imports: `digest preview` loads this and its own module only."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from digest.config.load import load_settings
from digest.config.profiles import load_profile, profile_from_options
from digest.config.settings import Settings, parse_moment
from digest.errors import DigestError
from digest.jobs.context import Clock, ProgressSink, no_progress, terminal_progress, utc_now
from digest.models import Profile
from digest.util.logs import setup_logging

__all__ = ["clock_of", "profile_from_args", "progress_sink", "settings_of"]


def profile_from_args(args: argparse.Namespace) -> Profile | None:
    has_options = args.keyword or args.exclude or args.author or args.category
    if args.profile and has_options:
        raise DigestError("give either --profile or --keyword/--exclude/--author/--category")
    if args.profile:  # --describe adds the sentence; --top may list more than max_papers
        loaded = load_profile(args.profile)
        return dataclasses.replace(loaded, description=args.describe or loaded.description)
    if has_options:
        profile = profile_from_options(
            args.keyword, exclude=args.exclude, authors=args.author, categories=args.category
        )
        # One sentence of interest: what semantic matching embeds besides the keywords.
        top = max(profile.max_papers, getattr(args, "top", 0))
        return dataclasses.replace(profile, description=args.describe or "", max_papers=top)
    if args.describe:
        raise DigestError("--describe goes with --keyword (a profile file has `description`)")
    return None


def settings_of(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    json_lines = getattr(args, "log_json", False) or settings.logging.format == "json"
    setup_logging(json_lines=json_lines, level=settings.logging.level)
    return settings


def clock_of(args: argparse.Namespace, settings: Settings) -> Clock:
    """The job's clock: the real one, or the moment `--now` names (the same all through)."""
    if not getattr(args, "now", None):
        return utc_now
    try:
        fixed = parse_moment(args.now, settings.zone)
    except ValueError as err:
        raise DigestError(f"--now: {err}") from err
    return lambda: fixed


def progress_sink() -> ProgressSink:
    # A counter only where someone watches: a terminal, not cron or a log file.
    return terminal_progress if sys.stderr.isatty() else no_progress
