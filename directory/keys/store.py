"""API keys and their scopes: create, list, revoke, authenticate.

A key is shown once, at creation; only its SHA-256 is stored (keys are 256-bit random, so a fast
hash is enough: there is nothing to brute-force). Scopes are ``admin``, ``police:<force-id>``
and ``editor:<site-id>``; ``admin`` is allowed everything.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.keys.models import ApiKey
from directory.storage import utcnow

KEY_PREFIX = "hl_"
MAX_LABEL_LENGTH = 200
MAX_KEY_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL
SHOWN_PREFIX_LENGTH = 10  # "hl_" and 7 characters: enough to tell keys apart in a listing
_SCOPE_RE = re.compile(r"^(admin|police:[a-z0-9][a-z0-9-]{0,59}|editor:[1-9][0-9]{0,9})$")
# last_used_at is written at most this often per key, so authenticated reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class InvalidScope(ValueError):
    """A scope that is not admin, police:<force-id> or editor:<site-id>."""


class InvalidLabel(ValueError):
    """A label that is too long or holds control characters."""


class ApiKeyNotFound(LookupError):
    """No key with that id."""


class LastAdminKey(ValueError):
    """Revoking this key would leave no working admin key."""


@dataclass(frozen=True)
class NewApiKey:
    """A freshly created key: ``secret`` exists only here and is never stored."""

    key: ApiKey
    secret: str


def parse_scope(text: str) -> str:
    """Validate a scope string; raises InvalidScope saying which forms are allowed."""
    scope = (text or "").strip()
    if not _SCOPE_RE.match(scope):
        raise InvalidScope(
            f"'{text}' is not a scope: use 'admin', 'police:<force-id>' "
            "(e.g. police:leicestershire) or 'editor:<site-id>' (e.g. editor:42)"
        )
    return scope


def parse_label(text: str | None) -> str | None:
    """A trimmed label, or None; raises InvalidLabel for control characters or excess length."""
    label = (text or "").strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise InvalidLabel("a label cannot contain control characters")
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidLabel(f"a label is at most {MAX_LABEL_LENGTH} characters")
    return label or None


def scope_allows(granted: str, required: str) -> bool:
    """True if a key with scope ``granted`` may do what needs scope ``required``.

    ``admin`` may do everything; other scopes only exactly what they name.
    """
    return granted == "admin" or granted == required


def hash_key(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_key(session: Session, scope: str, label: str | None = None) -> NewApiKey:
    """Create a key with ``scope``; the caller shows ``secret`` once and forgets it."""
    scope = parse_scope(scope)
    label = parse_label(label)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=hash_key(secret),
        scope=scope,
        label=label,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return NewApiKey(key=key, secret=secret)


def list_api_keys(session: Session, include_revoked: bool = True) -> list[ApiKey]:
    """Every key, oldest first (revoked ones too unless asked not to)."""
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def get_api_key(session: Session, key_id: int) -> ApiKey:
    """One key by id; raises ApiKeyNotFound."""
    key = session.get(ApiKey, key_id) if 0 < key_id <= MAX_KEY_ID else None
    if key is None:
        raise ApiKeyNotFound(f"no API key with id {key_id}")
    return key


def revoke_api_key(session: Session, key_id: int, by: ApiKey | None = None) -> ApiKey:
    """Revoke a key (idempotent: revoking twice keeps the first time).

    ``by`` is the key asking (over HTTP): the last live admin key may not revoke itself, which
    would lock every admin out of the API (the CLI, with the database at hand, still can).
    """
    key = get_api_key(session, key_id)
    if by is not None and by.id == key.id and key.scope == "admin" and key.revoked_at is None:
        admins = session.scalar(
            select(func.count()).where(ApiKey.scope == "admin", ApiKey.revoked_at.is_(None))
        )
        if admins == 1:
            raise LastAdminKey(
                "this is the last working admin key: create another admin key before revoking "
                "it (or revoke it with `hyperlocal keys revoke`)"
            )
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def revoke_scope(session: Session, scope: str) -> int:
    """Revoke every live key with exactly this scope (when what it names is deleted)."""
    keys = session.scalars(
        select(ApiKey).where(ApiKey.scope == scope, ApiKey.revoked_at.is_(None))
    ).all()
    for key in keys:
        key.revoked_at = utcnow()
    return len(keys)


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The live key matching ``secret``, or None if it is unknown or revoked.

    Records when the key was last used (at most once a minute per key).
    """
    if not secret.startswith(KEY_PREFIX):
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.commit()
    return key
