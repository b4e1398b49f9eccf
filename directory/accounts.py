"""Social and web accounts (of sites, police teams and officers), checked against their platform.

Pure. An account is (platform, handle, url); the url must be an http(s) address on the
platform's own hosts, so a "Facebook" link cannot point anywhere else. Mastodon is federated:
any host, with a profile path ("/@name"). ``web`` and ``rss`` take any address.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from directory.urls import UrlInvalid, normalise_url

PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "x": ("x.com", "twitter.com"),
    "facebook": ("facebook.com", "fb.com"),
    "instagram": ("instagram.com",),
    "youtube": ("youtube.com", "youtu.be"),
    "bluesky": ("bsky.app",),
    "mastodon": (),
    "web": (),
    "rss": (),
}
PLATFORMS = tuple(PLATFORM_HOSTS)
ALIASES = {"twitter": "x"}
MAX_HANDLE_LENGTH = 100


class AccountInvalid(ValueError):
    """An account whose platform, handle or url cannot be accepted."""


@dataclass(frozen=True)
class Account:
    """One official account: platform, handle (may be empty), normalised url."""

    platform: str
    handle: str
    url: str

    def to_json(self) -> dict[str, str]:
        return {"platform": self.platform, "handle": self.handle, "url": self.url}


def _on_host(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h) for h in allowed)


def check_account(platform: str, url: str, handle: str | None = None) -> Account:
    """An Account, or AccountInvalid saying what is wrong (unknown platform, url elsewhere)."""
    name = ALIASES.get((platform or "").strip().lower(), (platform or "").strip().lower())
    if name not in PLATFORM_HOSTS:
        raise AccountInvalid(
            f"'{platform}' is not a supported platform: use one of {', '.join(PLATFORMS)}"
        )
    try:
        normal = normalise_url(url, f"the {name} url")
    except UrlInvalid as exc:
        raise AccountInvalid(str(exc)) from None
    parts = urlsplit(normal)
    host = parts.hostname or ""
    allowed = PLATFORM_HOSTS[name]
    if allowed and not _on_host(host, allowed):
        raise AccountInvalid(
            f"'{normal}' is not a {name} address (expected {' or '.join(allowed)})"
        )
    if name == "mastodon" and not parts.path.startswith("/@"):
        raise AccountInvalid(f"'{normal}' is not a Mastodon profile (expected https://host/@name)")
    clean_handle = (handle or "").strip()
    if len(clean_handle) > MAX_HANDLE_LENGTH or any(ord(c) < 32 for c in clean_handle):
        raise AccountInvalid(f"the {name} handle is too long or has control characters")
    return Account(name, clean_handle, normal)


def accounts_from_json(items: list[dict] | None) -> list[Account]:
    """Check a list of {platform, url, handle?}; raises AccountInvalid naming the bad one."""
    accounts = []
    for index, item in enumerate(items or [], start=1):
        if not isinstance(item, dict):
            raise AccountInvalid(f"account {index} must be an object with platform and url")
        try:
            accounts.append(check_account(item.get("platform", ""), item.get("url", ""),
                                          item.get("handle")))  # fmt: skip
        except AccountInvalid as exc:
            raise AccountInvalid(f"account {index}: {exc}") from None
    return accounts
