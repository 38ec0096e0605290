"""Subscribing and leaving: the rules the CLI and the web pages share."""

from __future__ import annotations

from digest.compose.tokens import verify_unsubscribe_token
from digest.config.settings import Settings
from digest.errors import DigestError
from digest.jobs.context import signing_secret
from digest.models import Profile
from digest.store.roles import Operations


def check_profile_sources(profile: Profile, settings: Settings, *, who: str) -> None:
    """A profile naming a source the configuration lacks would silently get nothing from it."""
    configured = [source.name for source in settings.sources]
    unknown = [name for name in profile.sources if name not in configured]
    if unknown:
        raise DigestError(
            f"{who}: the profile asks for source {', '.join(map(repr, unknown))}, which the "
            f"configuration does not have (configured: {', '.join(configured)})"
        )


def address_for_token(settings: Settings, store: Operations, token: str) -> str:
    """The address an unsubscribe token was signed for; DigestError if it is not ours."""
    return verify_unsubscribe_token(signing_secret(settings, store), token)
