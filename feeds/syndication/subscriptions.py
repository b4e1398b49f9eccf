"""Outlets' subscriptions to bulletins: made, changed, followed to their site's area, read.

A subscription belongs to a site; its editors manage it. It says which kinds of bulletin the
outlet wants, where (the site's coverage by default, widened by ``radius_m``, or an area of
its own) and how: a feed at an unguessable address, and optionally a webhook endpoint. The
effective area's bounding box is copied into indexed columns so that matching a bulletin
starts with a range query; areas themselves come from the per-process area cache.

Webhook events are rows of ``webhook_messages`` written in the caller's transaction (the
outbox); ``feeds.syndication.webhooks`` sends them.
"""

from __future__ import annotations

import base64
import math
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from directory.geography.area_builders import widen_area
from directory.geography.areas import Area, AreaInvalid, area_from_json, set_area_columns
from directory.sites.models import Site
from directory.storage import utcnow
from directory.urls import UrlInvalid, normalise_url
from feeds.ingest.http import HttpClient
from feeds.syndication.models import BULLETIN_KINDS, DEFAULT_FORCE_WIDE, Subscription

CHANNELS = ("feed", "webhook")
MAX_WIDEN_M = 25_000.0
MAX_SUBSCRIPTIONS_PER_SITE = 20
# A subscription's area is a site's coverage (at most MAX_SITE_EXTENT_M across) widened by at
# most MAX_WIDEN_M on each side, or an area of its own no larger: the box search only scans
# boxes starting this far south of the bulletin's.
MAX_SUBSCRIPTION_EXTENT_M = 100_000.0 + 2 * MAX_WIDEN_M  # directory.sites.store.MAX_SITE_EXTENT_M
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
# After a rotation the previous secret still signs (alongside the new one) for this long, so
# a receiver can switch without dropping events.
ROTATION_OVERLAP_HOURS = 24


class SubscriptionNotFound(LookupError):
    """No subscription with that id (for this site)."""


class SubscriptionInvalid(ValueError):
    """A field that cannot be stored; the message names it."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _kinds(kinds: Iterable[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(kinds)) if kinds is not None else list(BULLETIN_KINDS)
    unknown = [k for k in chosen if k not in BULLETIN_KINDS]
    if unknown:
        raise SubscriptionInvalid(
            f"unknown kind(s) {', '.join(map(str, unknown))}: use {', '.join(BULLETIN_KINDS)}"
        )
    if not chosen:
        raise SubscriptionInvalid("kinds must name at least one kind of bulletin")
    return chosen


def _force_wide(kinds: Iterable[str] | None) -> list[str]:
    """The kinds wanted even when located only to a whole force (may be none at all)."""
    chosen = list(dict.fromkeys(kinds)) if kinds is not None else list(DEFAULT_FORCE_WIDE)
    unknown = [k for k in chosen if k not in BULLETIN_KINDS]
    if unknown:
        raise SubscriptionInvalid(f"unknown force-wide kind(s) {', '.join(map(str, unknown))}: "
                                  f"use {', '.join(BULLETIN_KINDS)}")  # fmt: skip
    return chosen


def force_wide_kinds(subscription: Subscription) -> list[str]:
    if subscription.force_wide_kinds is None:
        return list(DEFAULT_FORCE_WIDE)
    return subscription.force_wide_kinds


def _channels(channels: Iterable[str] | None, webhook_url: str | None) -> list[str]:
    chosen = list(dict.fromkeys(channels)) if channels is not None else (
        ["feed", "webhook"] if webhook_url else ["feed"]
    )  # fmt: skip
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        raise SubscriptionInvalid(
            f"unknown channel(s) {', '.join(map(str, unknown))}: use {', '.join(CHANNELS)}"
        )
    if not chosen:
        raise SubscriptionInvalid("channels must name at least one of feed, webhook")
    if "webhook" in chosen and not webhook_url:
        raise SubscriptionInvalid("the webhook channel needs a webhook_url")
    return chosen


def _webhook_url(url: str | None, guard: HttpClient | None = None) -> str | None:
    """The normal form of a webhook url; with ``guard`` (the client that will call it), one
    whose host is an internal address is refused now rather than at every send."""
    if url is None or not url.strip():
        return None
    try:
        normal = normalise_url(url, "webhook_url")
    except UrlInvalid as exc:
        raise SubscriptionInvalid(str(exc)) from None
    refusal = guard.address_refusal(normal) if guard is not None else None
    if refusal:
        raise SubscriptionInvalid(
            f"webhook_url {normal} points at {refusal}: webhooks are sent to public addresses only"
        )
    return normal


def _set_area(subscription: Subscription, area: Area, own: Area | None = None) -> None:
    extent = area.bbox.extent_m
    if extent > MAX_SUBSCRIPTION_EXTENT_M:
        raise SubscriptionInvalid(
            f"the area is {extent / 1000:,.0f} km across; a subscription covers at "
            f"most {MAX_SUBSCRIPTION_EXTENT_M / 1000:,.0f} km"
        )
    data = area.to_json()
    if own is not None and own is not area:
        data["own"] = own.to_json()  # the editor's area before widening, for a new radius
    set_area_columns(subscription, area, data)


def _effective_area(site: Site, own: Area | None, radius_m: float) -> Area:
    if not (math.isfinite(radius_m) and 0 <= radius_m <= MAX_WIDEN_M):
        raise SubscriptionInvalid(
            f"radius_m {radius_m:g} is not allowed: 0 to {MAX_WIDEN_M:,.0f} metres"
        )
    base = own if own is not None else area_from_json(site.area)
    try:
        return widen_area(base, radius_m)
    except AreaInvalid as exc:
        raise SubscriptionInvalid(f"the widened area: {exc}") from None


def create_subscription(
    session: Session,
    site: Site,
    *,
    label: str = "",
    kinds: Sequence[str] | None = None,
    area: Area | None = None,
    radius_m: float = 0.0,
    channels: Sequence[str] | None = None,
    webhook_url: str | None = None,
    guard: HttpClient | None = None,
    force_wide_kinds: Sequence[str] | None = None,
) -> Subscription:
    """Subscribe an outlet (``area=None``: the site's coverage, kept in step with it).
    ``guard``: the client that will send its webhooks (see ``_webhook_url``)."""
    count = session.query(Subscription).filter(Subscription.site_id == site.id).count()
    if count >= MAX_SUBSCRIPTIONS_PER_SITE:
        raise SubscriptionInvalid(
            f"a site may have at most {MAX_SUBSCRIPTIONS_PER_SITE} subscriptions"
        )
    url = _webhook_url(webhook_url, guard)
    now = utcnow()
    subscription = Subscription(
        site_id=site.id,
        label=_label(label),
        kinds=_kinds(kinds),
        follows_site=area is None,
        radius_m=float(radius_m),
        channels=_channels(channels, url),
        force_wide_kinds=_force_wide(force_wide_kinds),
        feed_token=secrets.token_urlsafe(24),
        webhook_url=url,
        webhook_secrets=[{"secret": new_secret(), "created_at": now.isoformat()}] if url else [],
        webhook_state="active" if url else "none",
        active=True,
        created_at=now,
        updated_at=now,
    )
    _set_area(subscription, _effective_area(site, area, float(radius_m)), area)
    session.add(subscription)
    session.flush()
    return subscription


def _label(label: str | None) -> str:
    label = (label or "").strip()
    if len(label) > 200 or any(ord(c) < 32 for c in label):
        raise SubscriptionInvalid("label is at most 200 characters, without control characters")
    return label


_UNSET: Any = object()


def update_subscription(
    session: Session,
    subscription: Subscription,
    site: Site,
    *,
    label: str | None = None,
    kinds: Sequence[str] | None = None,
    area: Area | None | Any = _UNSET,
    radius_m: float | None = None,
    channels: Sequence[str] | None = None,
    webhook_url: str | None | Any = _UNSET,
    active: bool | None = None,
    guard: HttpClient | None = None,
    force_wide_kinds: Sequence[str] | None = None,
) -> Subscription:
    """Change the given fields. A new webhook url gets a new secret and is enabled again;
    ``area=None`` goes back to following the site's coverage."""
    now = utcnow()
    if label is not None:
        subscription.label = _label(label)
    if kinds is not None:
        subscription.kinds = _kinds(kinds)
    if force_wide_kinds is not None:
        subscription.force_wide_kinds = _force_wide(force_wide_kinds)
    if webhook_url is not _UNSET:
        url = _webhook_url(webhook_url, guard)
        if url != subscription.webhook_url:
            subscription.webhook_url = url
            subscription.webhook_secrets = (
                [{"secret": new_secret(), "created_at": now.isoformat()}] if url else []
            )
            subscription.webhook_state = "active" if url else "none"
            subscription.webhook_disabled_reason = None
            subscription.webhook_failing_since = None
            if channels is None:
                channels = [c for c in subscription.channels if c != "webhook"] + (
                    ["webhook"] if url else []
                )
    if channels is not None:
        subscription.channels = _channels(channels, subscription.webhook_url)
    if area is not _UNSET or radius_m is not None:
        if radius_m is not None:
            subscription.radius_m = float(radius_m)
        if area is not _UNSET:
            subscription.follows_site = area is None
            own = area
        else:
            own = None if subscription.follows_site else area_from_json(_own_area(subscription))
        _set_area(subscription, _effective_area(site, own, subscription.radius_m), own)
    if active is not None:
        if subscription.active and not active and subscription.paused_at is None:
            subscription.paused_at = now
        subscription.active = active
    subscription.updated_at = now
    session.flush()
    return subscription


def _own_area(subscription: Subscription) -> dict[str, Any]:
    """The editor's own area as it was before widening (kept under "own" in the JSON)."""
    return subscription.area.get("own", subscription.area)


def follow_site_area(session: Session, site: Site) -> None:
    """Recompute the area of the site's subscriptions that follow its coverage."""
    query = select(Subscription).where(
        Subscription.site_id == site.id, Subscription.follows_site.is_(True)
    )
    for subscription in session.scalars(query.options(undefer(Subscription.area))):
        _set_area(subscription, _effective_area(site, None, subscription.radius_m))
        subscription.updated_at = utcnow()


def enable_webhook(subscription: Subscription) -> None:
    """Turn a disabled endpoint back on (the editor fixed it)."""
    if not subscription.webhook_url:
        raise SubscriptionInvalid("this subscription has no webhook_url")
    subscription.webhook_state = "active"
    subscription.webhook_disabled_reason = None
    subscription.webhook_failing_since = None
    subscription.updated_at = utcnow()


def rotate_secret(subscription: Subscription, now: datetime | None = None) -> str:
    """A new signing secret; the previous one keeps signing for ROTATION_OVERLAP_HOURS."""
    if not subscription.webhook_url:
        raise SubscriptionInvalid("this subscription has no webhook_url to sign for")
    now = now or utcnow()
    until = (now + timedelta(hours=ROTATION_OVERLAP_HOURS)).isoformat()
    kept = [
        {**old, "expires_at": old.get("expires_at") or until}
        for old in subscription.webhook_secrets
        if not old.get("expires_at") or datetime.fromisoformat(old["expires_at"]) > now
    ]
    secret = new_secret()
    subscription.webhook_secrets = [{"secret": secret, "created_at": now.isoformat()}] + kept
    subscription.updated_at = now
    return secret


def signing_secrets(secrets_json: Sequence[dict[str, Any]], now: datetime) -> list[str]:
    """The secrets that sign a message sent ``now``: the current one and unexpired old ones."""
    return [
        s["secret"]
        for s in secrets_json
        if not s.get("expires_at") or datetime.fromisoformat(s["expires_at"]) > now
    ]


def get_subscription(session: Session, site_id: int, subscription_id: int) -> Subscription:
    subscription = (
        session.get(Subscription, subscription_id, options=[undefer(Subscription.area)])
        if 0 < subscription_id < 2**31
        else None
    )
    if subscription is None or subscription.site_id != site_id:
        raise SubscriptionNotFound(f"site {site_id} has no subscription {subscription_id}")
    return subscription


def subscription_by_token(session: Session, token: str) -> Subscription:
    subscription = (
        session.scalar(select(Subscription).where(Subscription.feed_token == token))
        if 0 < len(token) <= 64
        else None
    )
    if subscription is None:
        raise SubscriptionNotFound("no subscription feed at this address")
    return subscription


def list_subscriptions(session: Session, site_id: int) -> list[Subscription]:
    query = (
        select(Subscription)
        .where(Subscription.site_id == site_id)
        .options(undefer(Subscription.area))
        .order_by(Subscription.id)
    )
    return list(session.scalars(query))
