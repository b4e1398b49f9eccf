"""Contact channels as people use them: an email address, a telephone number, a postal address.

Shared by sites (their private contact email) and police teams (the channels residents see),
so a force's ``PATCH`` and a data.police.uk import are held to the same rules as a site.
Pure.
"""

from __future__ import annotations

import re

from directory.text import plain_text

CONTACT_KEYS = ("email", "telephone", "mobile", "fax", "address")
MAX_EMAIL_LENGTH = 320
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# Digits with the separators people write ("0116 222 2222", "+44 (0)116 222 2222", "101").
_PHONE_RE = re.compile(r"^\+?[0-9 ()\-.]{3,40}$")


class ContactInvalid(ValueError):
    """A contact channel that is not what its name says; the message says which and why."""


def email_address(value: str | None, what: str = "email") -> str | None:
    """A trimmed email address, or None when empty; raises ContactInvalid otherwise."""
    email = (value or "").strip()
    if not email:
        return None
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL_RE.match(email):
        raise ContactInvalid(f"{what} '{email[:80]}' is not an email address")
    return email


def phone_number(value: str | None, what: str = "telephone") -> str | None:
    """A trimmed telephone number (at least 3 digits), or None when empty."""
    number = (value or "").strip()
    if not number:
        return None
    if not _PHONE_RE.match(number) or sum(c.isdigit() for c in number) < 3:
        raise ContactInvalid(f"{what} '{number[:80]}' is not a telephone number")
    return number


def contact_channel(key: str, value: object) -> str | None:
    """One channel of a team's contact details, checked by its kind; None when empty."""
    text = plain_text(str(value), 500) if value is not None else ""
    if key == "email":
        return email_address(text)
    if key in ("telephone", "mobile", "fax"):
        return phone_number(text, key)
    if key == "address":
        return text or None
    raise ContactInvalid(
        f"contact_details may hold {', '.join(CONTACT_KEYS)}; not {key} (accounts go in 'accounts')"
    )
