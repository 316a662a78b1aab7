"""The import context: what every connector needs to know from the settings (egos, plausible dates, keys).

Connectors take this context and never read the settings themselves.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.connectors.base import ImportContext, Plausibility
from tiepulse.core.settings import Settings


def subject_key(settings: Settings) -> bytes | None:
    """The HMAC key for subjects and titles when they are kept (``privacy.keep_subject_hash``), else None."""
    return copy_key(settings) if settings.config.privacy.keep_subject_hash else None


def copy_key(settings: Settings) -> bytes:
    """The pseudonym key, else a random key kept (0600) in TIEPULSE_HOME: the key of subject hashes and digests."""
    if settings.hmac_key is not None:
        return settings.hmac_key
    path = settings.home / "subject_hmac.key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def address_normaliser(settings: Settings) -> AddressNormaliser:
    """How the settings spell addresses: folded as configured, pseudonyms with the pseudonym key."""
    identity = settings.config.identity
    return AddressNormaliser(
        fold_gmail=identity.fold_gmail,
        hmac_key=settings.hmac_key,
        automated_patterns=tuple(identity.automated_patterns),
        group_patterns=tuple(identity.group_patterns),
    )


def build_import_context(settings: Settings) -> ImportContext:
    options = settings.config.imports
    as_of = dt.datetime.combine(settings.as_of, dt.time(), tzinfo=dt.UTC)
    earliest = dt.datetime.combine(options.earliest_plausible_date, dt.time(), tzinfo=dt.UTC)
    window_end = as_of + dt.timedelta(days=options.calendar_window_days_ahead)
    # The future starts after today (or the analysis date, when that is later), never at an earlier analysis date:
    # analysing 2001 must not quarantine mail from 2002.
    today = dt.datetime.now(dt.UTC)
    latest = max(max(today, as_of) + dt.timedelta(days=options.future_tolerance_days), window_end)
    normaliser = address_normaliser(settings)
    egos = []
    for ego in settings.config.egos:
        ego_id = normaliser.normalise(ego.email)
        egos += [(a, ego_id) for a in map(normaliser.normalise, [ego.email, *ego.addresses]) if a and ego_id]
    return ImportContext(
        ego_addresses=tuple(egos),
        automated_patterns=normaliser.automated_patterns,
        group_patterns=tuple(settings.config.identity.group_patterns),
        plausibility=Plausibility(earliest, latest),
        calendar_window=(as_of - dt.timedelta(days=options.calendar_window_days_back), window_end),
        fold_gmail=settings.config.identity.fold_gmail,
        hmac_key=settings.hmac_key,
        subject_key=subject_key(settings),
        copy_key=copy_key(settings),
        workers=options.workers or os.cpu_count() or 1,
    )
