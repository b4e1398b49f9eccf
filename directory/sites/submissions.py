"""Self-service for the people who submit a site: a private status link, and the editor key.

``POST /sites`` gives the submitter a token once (only its hash is kept, as for API keys):
the status link. There they see whether the site is pending, approved or rejected (with the
admin's reason), and once it is approved they take the site's editor key there, once, without
an admin issuing it. Another key after that comes from an admin (``POST /keys``).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.keys.store import NewApiKey, create_api_key, hash_key
from directory.sites.models import Site

TOKEN_PREFIX = "hls_"


class SubmissionNotFound(LookupError):
    """No site has this status token."""


class KeyNotAvailable(ValueError):
    """The editor key cannot be taken now; the message says why and what to do."""


def new_submission_token(site: Site) -> str:
    """A new status token for the site (shown once; only its hash is stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    site.submission_token_hash = hash_key(token)
    return token


def site_by_submission(session: Session, token: str) -> Site:
    found = None
    if token.startswith(TOKEN_PREFIX) and len(token) <= 100:
        found = session.scalar(select(Site).where(Site.submission_token_hash == hash_key(token)))
    if found is None:
        raise SubmissionNotFound("No site has this status link: check you copied all of it")
    return found


def editor_key_state(site: Site) -> str:
    """ "available", "taken", or "not yet" (the site is not approved)."""
    if site.status != "approved":
        return "not yet"
    return "taken" if site.editor_key_issued_at is not None else "available"


def take_editor_key(session: Session, site: Site, now: datetime) -> NewApiKey:
    """The site's editor key, the once it may be taken here (no commit)."""
    state = editor_key_state(site)
    if state == "not yet":
        raise KeyNotAvailable(f"the site is {site.status}: its editor key can be taken here once "
                              "an admin approves it")  # fmt: skip
    if state == "taken":
        raise KeyNotAvailable(
            f"the editor key was taken here on {site.editor_key_issued_at:%d %B %Y at %H:%M} UTC; "
            "for another, ask an admin"
        )
    site.editor_key_issued_at = now
    return create_api_key(session, f"editor:{site.id}", label="taken at the status link")
