"""Reading the profile form: every field through the rules the CLI uses (address, time of
day, time zone, profile), every problem kept beside the field it belongs to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from digest.config.addresses import validate_address
from digest.config.profile_form import (
    FIELDS,
    LIST_FIELDS,
    ProfileFormError,
    form_values,
    profile_from_form,
)
from digest.config.settings import Settings, check_timezone, parse_clock
from digest.errors import AddressError, DigestError
from digest.jobs.subscriptions import check_profile_sources
from digest.models import Profile, Subscriber

FormValues = dict[str, str | tuple[str, ...]]
MAX_FIELD_CHARS = 4000


@dataclass(frozen=True, slots=True)
class ProfileForm:
    values: FormValues  # what to show again in the form
    errors: Mapping[str, str] = field(default_factory=dict)
    subscriber: Subscriber | None = None  # set when every field is valid

    @property
    def ok(self) -> bool:
        return self.subscriber is not None and not self.errors


def values_of(form: FormData) -> FormValues:
    values: FormValues = {}
    for name in (*FIELDS, "email", "deliver_at", "timezone"):
        if name in LIST_FIELDS:
            values[name] = tuple(str(v)[:100] for v in form.getlist(name) if isinstance(v, str))
        else:
            raw = form.get(name, "")
            values[name] = raw[:MAX_FIELD_CHARS] if isinstance(raw, str) else ""
    return values


def _text(values: FormValues, name: str) -> str:
    value = values.get(name, "")
    return value if isinstance(value, str) else ""


def read_profile_form(
    settings: Settings,
    form: FormData,
    *,
    email: str | None = None,
    base: Subscriber | None = None,
) -> ProfileForm:
    """A subscriber from the form (`email` fixed by a manage link, else the form's field).
    With `base`, only the fields changed from what the form showed for it change."""
    values = values_of(form)
    errors: dict[str, str] = {}
    address = email
    if address is None:
        try:
            address = validate_address(_text(values, "email"))
        except AddressError as err:
            errors["email"] = f"{err.reason}"
    profile: Profile | None = None
    try:
        profile = profile_from_form(values, base.profile if base else None)
        check_profile_sources(profile, settings, who="this profile")
    except ProfileFormError as err:
        errors.update(err.errors)
    except DigestError as err:
        errors["sources"] = str(err).removeprefix("this profile: ")
    deliver_at, timezone = dt.time(7, 0), "UTC"
    try:
        deliver_at = parse_clock(_text(values, "deliver_at") or "07:00")
    except ValueError as err:
        errors["deliver_at"] = str(err)
    try:
        timezone = check_timezone(_text(values, "timezone") or "UTC")
    except ValueError as err:
        errors["timezone"] = str(err)
    if errors or profile is None or address is None:
        return ProfileForm(values, errors)
    return ProfileForm(values, {}, Subscriber(address, profile, deliver_at, timezone))


def values_for(subscriber: Subscriber) -> FormValues:
    """The form filled in for an existing subscriber (the manage page)."""
    values: FormValues = dict(form_values(subscriber.profile))
    values["email"] = subscriber.email
    values["deliver_at"] = f"{subscriber.deliver_at:%H:%M}"
    values["timezone"] = subscriber.timezone
    return values
