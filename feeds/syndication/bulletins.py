"""Bulletins: police appeals, missing-person notices, wanted notices, warnings and updates.

A bulletin is made from a new item of a police-owned feed (``bulletins_from_posts``, called in
the transaction that stores the item) or posted directly by a force (``post_bulletin``). Either
way it is classified (``classify``), located (``bulletin_location``) and published in the same
transaction: matched to the subscriptions whose area it meets (``matching``), each match written
once to ``bulletin_deliveries``, and a webhook event queued for each (``outbox``).

An ``update`` ("found safe", "charged following our appeal") resolves the earlier bulletin it
refers to: the same link or guid, else the same force and the same subject within
``UPDATE_WINDOW``. Only active bulletins are syndicated; a resolved or cancelled missing-person
bulletin is *withdrawn*: ``bulletin.withdrawn`` is pushed so outlets take down name and photo.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from directory.geography.areas import Area, area_from_json, set_area_columns
from directory.geography.force_at import outside_force as outside_force_area
from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.storage import savepoint, utcnow
from directory.text import plain_text, sanitise_html, xml_safe
from directory.urls import UrlInvalid, normalise_url
from feeds.ingest.models import Post
from feeds.ingest.store import record_item_problem
from feeds.syndication.bulletin_location import Located, locate_item
from feeds.syndication.classify import SEVERITIES, URGENCIES, classify
from feeds.syndication.closing import forgotten_person
from feeds.syndication.matching import deliver, delivered_to, subscriptions_matching
from feeds.syndication.models import BULLETIN_KINDS, BULLETIN_STATUSES, PRECISION, Bulletin
from feeds.syndication.outbox import (
    cancel_pending,
    enqueue_events,
    never_sent,
    redact_messages,
)
from feeds.syndication.updates import OTHER_FORCES_WINDOW, UPDATE_WINDOW, referenced_by

# How long a bulletin stays active unless the force says otherwise or resolves it.
LIFETIME = {
    "appeal": timedelta(days=28),
    "missing": timedelta(days=14),
    "wanted": timedelta(days=28),
    "warning": timedelta(days=7),
    "update": timedelta(days=7),
}
MAX_LIFETIME = timedelta(days=365)
POLICE_OWNERS = ("force", "neighbourhood", "officer")
log = logging.getLogger(__name__)


class BulletinInvalid(ValueError):
    """A bulletin that cannot be stored; the message names the field."""


@dataclass(frozen=True)
class Published:
    bulletin: Bulletin
    subscriptions: list[int]  # newly matched
    resolved: list[int]  # earlier bulletins this one resolved (updates)


# ---------------------------------------------------------------------------- shapes


def bulletin_json(bulletin: Bulletin, area: bool = True) -> dict[str, Any]:
    """A bulletin as the API shows it and as webhook events carry it."""
    body: dict[str, Any] = {
        "id": bulletin.id,
        "kind": bulletin.kind,
        "status": bulletin.status,
        "title": bulletin.title,
        "body_html": bulletin.body_html,
        "summary": plain_text(bulletin.body_html, 600),
        "link": bulletin.link,
        "source": bulletin.source,
        "force": bulletin.force_id,
        "neighbourhood_id": bulletin.neighbourhood_id,
        "reason": bulletin.reason,
        "severity": bulletin.severity,
        "urgency": bulletin.urgency,
        "located_by": bulletin.located_by,
        "precision": PRECISION.get(bulletin.located_by),
        "location": bulletin.location,
        "postcodes": list(bulletin.postcodes or []),
        "places": list(bulletin.places or []),
        "published_at": bulletin.published_at,
        "expires_at": bulletin.expires_at,
        "resolved_at": bulletin.resolved_at,
        "resolved_by": bulletin.resolved_by_id,
        "resolution": bulletin.resolution,
        "updated_at": bulletin.updated_at,
    }
    if area:
        body["area"] = bulletin.area
    return body


def _set_area(bulletin: Bulletin, located: Located) -> None:
    bulletin.located_by = located.by
    bulletin.location = located.description and located.description[:300]
    bulletin.postcodes = list(located.postcodes[:20])
    bulletin.places = [name[:100] for name in located.places[:20]]
    set_area_columns(bulletin, located.area)


# ---------------------------------------------------------------------------- making


def _text(value: str, what: str, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BulletinInvalid(f"{what} is required")
    if len(value) > limit:
        raise BulletinInvalid(f"{what} is at most {limit:,} characters")
    return value


def _expiry(kind: str, published: datetime, expires_at: datetime | None, now: datetime
            ) -> datetime:  # fmt: skip
    if expires_at is None:
        return published + LIFETIME[kind]
    if expires_at.tzinfo is None:
        raise BulletinInvalid("expires_at needs a time zone (e.g. 2026-12-01T18:00:00Z)")
    if expires_at <= now:
        raise BulletinInvalid("expires_at is in the past")
    if expires_at > now + MAX_LIFETIME:
        raise BulletinInvalid(f"expires_at is more than {MAX_LIFETIME.days} days away")
    return expires_at


def _publish(session: Session, bulletin: Bulletin, now: datetime) -> Published:
    """Flush the bulletin, resolve what an update refers to, match and queue events."""
    session.add(bulletin)
    session.flush()
    resolved = _resolve_referenced(session, bulletin, now) if bulletin.kind == "update" else []
    area = None
    if bulletin.area is not None:
        area = area_from_json(bulletin.area)
    matched: list[int] = []
    if area is not None and bulletin.status == "active":
        candidates = subscriptions_matching(session, area, bulletin.kind,
                                            force_wide=bulletin.located_by == "force")  # fmt: skip
        matched = deliver(session, bulletin.id, candidates, now)
        enqueue_events(session, matched, "bulletin.published", bulletin_json(bulletin),
                       bulletin.id, now)  # fmt: skip
    return Published(bulletin, matched, resolved)


def post_bulletin(
    session: Session,
    force_id: str,
    *,
    kind: str,
    title: str,
    body_html: str = "",
    link: str | None = None,
    area: Area | None = None,
    neighbourhood: Neighbourhood | None = None,
    expires_at: datetime | None = None,
    severity: str | None = None,
    urgency: str | None = None,
    now: datetime | None = None,
    outside_force: bool = False,
    outside_reason: str | None = None,
) -> Published:
    """A bulletin posted directly by a force. Without ``area`` (or a team) it is located
    from its words, as feed items are. An ``area`` whose centre lies in another force's area is
    refused unless ``outside_force`` is set with a reason (a cross-border appeal): a slip of
    the map must not send an appeal to the wrong county's outlets."""
    now = now or utcnow()
    if session.get(PoliceForce, force_id) is None:
        raise BulletinInvalid(f"no police force '{force_id}'")
    if kind not in BULLETIN_KINDS:
        raise BulletinInvalid(f"kind '{kind}' is not one of {', '.join(BULLETIN_KINDS)}")
    if kind != "warning" and (severity or urgency):
        raise BulletinInvalid("severity and urgency are for warnings only")
    if severity is not None and severity not in SEVERITIES:
        raise BulletinInvalid(f"severity is one of {', '.join(SEVERITIES)}")
    if urgency is not None and urgency not in URGENCIES:
        raise BulletinInvalid(f"urgency is one of {', '.join(URGENCIES)}")
    clean_title = plain_text(_text(title, "title", 500, required=True), 500)
    body = sanitise_html(_text(body_html, "body", 50_000))
    try:
        clean_link = normalise_url(link, "link") if link else None
    except UrlInvalid as exc:
        raise BulletinInvalid(str(exc)) from None
    if neighbourhood is not None and neighbourhood.force_id != force_id:
        raise BulletinInvalid(f"neighbourhood {neighbourhood.code} is not a team of {force_id}")
    if area is not None:
        described = "given by the force"
        elsewhere = outside_force_area(session, area, force_id)
        if elsewhere is not None and not outside_force:
            raise BulletinInvalid(
                f"the area lies outside {force_id}'s police force area (its centre is in "
                f"{elsewhere.name}'s): check it, or send outside_force: true with "
                "outside_reason to post it there on purpose"
            )  # fmt: skip
        if outside_force:
            reason = plain_text(outside_reason or "", 200)
            if not reason:
                raise BulletinInvalid("outside_force needs outside_reason: why this force "
                                      "posts for an area outside its own")  # fmt: skip
            described = f"given by the force, outside its area: {reason}"
        located = Located(area, "given", described,
                          neighbourhood.id if neighbourhood else None)  # fmt: skip
    else:
        team = neighbourhood.id if neighbourhood else None
        located = locate_item(session, f"{clean_title}\n{plain_text(body)}", None, force_id,
                              team)  # fmt: skip
    if kind == "warning":
        levels = classify(clean_title, plain_text(body))
        severity = severity or levels.severity or "Unknown"
        urgency = urgency or levels.urgency or "Unknown"
    bulletin = Bulletin(
        kind=kind,
        status="active",
        title=clean_title,
        body_html=body,
        link=clean_link,
        guid=None,
        source="direct",
        post_id=None,
        force_id=force_id,
        neighbourhood_id=located.neighbourhood_id,
        reason=f"posted directly by {force_id}",
        severity=severity,
        urgency=urgency,
        published_at=now,
        expires_at=_expiry(kind, now, expires_at, now),
        created_at=now,
        updated_at=now,
    )
    _set_area(bulletin, located)
    return _publish(session, bulletin, now)


def _owner_place(session: Session, owner: str) -> tuple[str | None, int | None]:
    """(force id, team id) of a feed owner such as "officer:7"."""
    kind, _, ident = owner.partition(":")
    if kind == "force":
        return ident, None
    if kind == "neighbourhood":
        team = session.get(Neighbourhood, int(ident))
        return (team.force_id, team.id) if team else (None, None)
    if kind == "officer":
        officer = session.get(Officer, int(ident))
        team = session.get(Neighbourhood, officer.neighbourhood_id) if officer else None
        return (team.force_id, team.id) if team else (None, None)
    return None, None


def _already_published(session: Session, force_id: str | None, post: Any) -> bool:
    """True if the force already has a bulletin for this item (the same guid, or the same
    article link, seen in another of its feeds: a force feed and a team feed, say)."""
    if force_id is None or not (post.guid or post.link):
        return False
    same = []
    if post.guid:
        same.append(Bulletin.guid == post.guid)
    if post.link:
        same.append(Bulletin.link == post.link)
    found = session.scalar(
        select(Bulletin.id).where(Bulletin.force_id == force_id, or_(*same)).limit(1)
    )
    return found is not None


def is_police_owner(owner: str) -> bool:
    return owner.partition(":")[0] in POLICE_OWNERS


def bulletins_from_posts(
    session: Session,
    owner: str,
    posts: Sequence[Any],
    now: datetime | None = None,
    edited: Sequence[Any] = (),
) -> list[Published]:
    """Bulletins for the new items of a police-owned feed (``feeds.ingest.store.NewPost``s), oldest
    first so that an update in the same fetch finds the appeal it closes. Items that are not
    bulletins (court results, recruitment) are left as plain posts. Each item is made a
    bulletin in a savepoint of its own: one that fails (to classify, locate or publish) is
    left as a post that says why (``posts.problem``), and the others carry on.

    ``edited`` items (seen before, now with a new title or text) are re-read: see
    ``_bulletin_from_edit``."""
    now = now or utcnow()
    if not (posts or edited) or not is_police_owner(owner):
        return []
    force_id, team_id = _owner_place(session, owner)
    made = []
    work = [(post, False) for post in posts] + [(post, True) for post in edited]
    for post, is_edit in sorted(work, key=lambda w: (w[0].published_at, w[0].id)):
        make = _bulletin_from_edit if is_edit else _bulletin_from_post
        try:
            with savepoint(session):
                published = make(session, post, force_id, team_id, now)
        except Exception as exc:  # a bug or input nobody foresaw: this item only
            log.exception("post %s: could not be made a bulletin", post.id)
            record_item_problem(session, post.id,
                                f"not made a bulletin: {type(exc).__name__}: {exc}")  # fmt: skip
            continue
        if published is not None:
            made.append(published)
    return made


def _bulletin_from_post(
    session: Session, post: Any, force_id: str | None, team_id: int | None, now: datetime
) -> Published | None:
    summary = plain_text(post.content_html, 5000)
    verdict = classify(post.title, summary)
    if verdict.kind is None or _already_published(session, force_id, post):
        return None
    located = locate_item(session, f"{post.title}\n{summary}", post.point, force_id, team_id)
    published = min(post.published_at, now)
    bulletin = Bulletin(
        kind=verdict.kind,
        status="active",
        title=xml_safe(post.title[:500]) or "(untitled)",
        body_html=xml_safe(post.content_html),
        link=post.link,
        guid=post.guid,
        source="feed",
        post_id=post.id,
        force_id=force_id,
        neighbourhood_id=located.neighbourhood_id or team_id,
        reason=verdict.reason[:500],
        severity=verdict.severity,
        urgency=verdict.urgency,
        published_at=published,
        expires_at=published + LIFETIME[verdict.kind],
        created_at=now,
        updated_at=now,
    )
    if bulletin.expires_at <= now:
        bulletin.status = "expired"  # an old item seen for the first time: keep, don't send
    _set_area(bulletin, located)
    return _publish(session, bulletin, now)


def _bulletin_from_edit(
    session: Session, post: Any, force_id: str | None, team_id: int | None, now: datetime
) -> Published | None:
    """A police item edited in place ("UPDATE: Kayla found safe" over the missing notice's
    guid), read again: a closure resolves its bulletin exactly as a separate update would
    (withdrawn everywhere for a missing person); an alert that changed is updated at every
    outlet that had it; an item that was not a bulletin and now is becomes one."""
    bulletin = session.scalar(select(Bulletin).where(Bulletin.post_id == post.id))
    if bulletin is None:
        return _bulletin_from_post(session, post, force_id, team_id, now)
    summary = plain_text(post.content_html, 5000)
    verdict = classify(post.title, summary)
    if bulletin.status != "active" or verdict.kind is None:
        return None
    bulletin.title = xml_safe(post.title[:500]) or "(untitled)"
    bulletin.body_html = xml_safe(post.content_html)
    bulletin.updated_at = now
    if verdict.kind == "update" and bulletin.kind != "update":
        change_status(session, bulletin, "resolved",
                      f"edited in place: {bulletin.title}"[:300], now)  # fmt: skip
        return Published(bulletin, [], [bulletin.id])
    _revised(bulletin, now)
    bulletin.reason = f"edited in place; {verdict.reason}"[:500]
    session.flush()
    enqueue_events(session, delivered_to(session, bulletin.id), "bulletin.updated",
                   bulletin_json(bulletin), bulletin.id, now)  # fmt: skip
    return Published(bulletin, [], [])


# ---------------------------------------------------------------------------- updates


def _resolve_referenced(session: Session, update_: Bulletin, now: datetime) -> list[int]:
    """Resolve the earlier bulletin this update refers to (its own force's, else a person
    found who another force was looking for), even if it has expired meanwhile; its id."""
    if update_.force_id is None:
        return []
    open_ = (Bulletin.status.in_(("active", "expired")), Bulletin.kind != "update",
             Bulletin.id != update_.id,
             Bulletin.published_at <= update_.published_at + timedelta(hours=1))  # fmt: skip
    own = session.scalars(select(Bulletin).where(
        *open_, Bulletin.force_id == update_.force_id,
        Bulletin.published_at >= update_.published_at - UPDATE_WINDOW)).all()  # fmt: skip
    link = referenced_by(update_, own)
    if link.target is None:
        others = session.scalars(select(Bulletin).where(
            *open_, Bulletin.force_id != update_.force_id, Bulletin.kind.in_(("missing", "wanted")),
            Bulletin.published_at >= update_.published_at - OTHER_FORCES_WINDOW)).all()  # fmt: skip
        link = referenced_by(update_, others, people_only=True)
    if link.target is None:
        log.info("update %s closes nothing: %s", update_.id, link.reason)
        return []
    note = f"update: {update_.title} (linked by {link.reason})"
    change_status(session, link.target, "resolved", note[:300], now, resolved_by=update_.id)
    return [link.target.id]


# ---------------------------------------------------------------------------- status


def withdrawal_event(bulletin: Bulletin) -> str:
    """The event a change of status sends: missing-person notices resolved or cancelled, and
    anything cancelled or expired, are withdrawn (take it down); other resolutions update."""
    if bulletin.status == "active":
        return "bulletin.updated"
    if bulletin.kind == "missing" or bulletin.status in ("cancelled", "expired"):
        return "bulletin.withdrawn"
    return "bulletin.updated"


def closed_event_data(bulletin: Bulletin) -> dict[str, Any]:
    """The data of the event a closed bulletin sends (a missing person's without them)."""
    if withdrawal_event(bulletin) == "bulletin.withdrawn" and bulletin.kind == "missing":
        return forgotten_person(bulletin)
    return bulletin_json(bulletin, area=False)


def change_status(
    session: Session,
    bulletin: Bulletin,
    status: str,
    note: str | None,
    now: datetime | None = None,
    resolved_by: int | None = None,
) -> Bulletin:
    """Resolve, cancel or expire an active bulletin (or resolve an expired one an update
    closes) and tell every outlet that had it."""
    now = now or utcnow()
    if status not in BULLETIN_STATUSES or status == "active":
        raise BulletinInvalid("status can be changed to resolved or cancelled")
    # An update closes what it refers to even after that expired: found, not just out of date.
    reopened = bulletin.status == "expired" and status == "resolved" and resolved_by is not None
    if bulletin.status != "active" and not reopened:
        raise BulletinInvalid(f"bulletin {bulletin.id} is already {bulletin.status}")
    bulletin.status = status
    bulletin.resolved_at = now
    bulletin.resolution = note and note[:300]
    bulletin.resolved_by_id = resolved_by
    bulletin.updated_at = now
    session.flush()
    event = withdrawal_event(bulletin)
    data = closed_event_data(bulletin)
    targets = delivered_to(session, bulletin.id)
    if event == "bulletin.withdrawn":
        # What is still queued about it must not reach an outlet after the withdrawal; an
        # outlet it never reached (published and closed before the sender ran) is told nothing.
        unheard = never_sent(session, bulletin.id)
        cancel_pending(session, now, bulletin_id=bulletin.id)
        targets = [s for s in targets if s not in unheard]
    if event == "bulletin.withdrawn" and bulletin.kind == "missing":
        _forget_person(session, bulletin)
    enqueue_events(session, targets, event, data, bulletin.id, now)
    return bulletin


def _forget_person(session: Session, bulletin: Bulletin) -> dict[str, Any]:
    """A missing-person appeal is closed: its name, photo and description leave the stored
    webhook payloads (the delivery log keeps ids, times and outcomes) and the raw post behind
    it; the withdrawal says only what was closed. The bulletin itself stays for its force."""
    data = forgotten_person(bulletin)
    title = data["title"]
    redact_messages(session, bulletin.id, data)
    post = session.get(Post, bulletin.post_id) if bulletin.post_id else None
    if post is not None:
        post.title, post.content_html = title, ""
        post.original_title = post.original_content_html = None
        post.tags, post.latitude, post.longitude = [], None, None
        post.problem = "details removed: the missing-person appeal is closed"
    return data


def expire_bulletins(session: Session, now: datetime | None = None, limit: int = 500) -> int:
    """Mark active bulletins past their expiry as expired (and withdraw them); how many."""
    now = now or utcnow()
    due = session.scalars(
        select(Bulletin)
        .where(Bulletin.status == "active", Bulletin.expires_at <= now)
        .order_by(Bulletin.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for bulletin in due:
        change_status(session, bulletin, "expired", "expired", now)
    return len(due)


def edit_bulletin(
    session: Session,
    bulletin: Bulletin,
    *,
    title: str | None = None,
    body_html: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Bulletin:
    """Change an active bulletin's words or expiry and send ``bulletin.updated``."""
    now = now or utcnow()
    if bulletin.status != "active":
        raise BulletinInvalid(f"bulletin {bulletin.id} is {bulletin.status}: it can't be edited")
    if title is not None:
        bulletin.title = plain_text(_text(title, "title", 500, required=True), 500)
    if body_html is not None:
        bulletin.body_html = sanitise_html(_text(body_html, "body", 50_000))
    if expires_at is not None:
        bulletin.expires_at = _expiry(bulletin.kind, bulletin.published_at, expires_at, now)
    bulletin.updated_at = now
    _revised(bulletin, now)
    session.flush()
    enqueue_events(session, delivered_to(session, bulletin.id), "bulletin.updated",
                   bulletin_json(bulletin), bulletin.id, now)  # fmt: skip
    return bulletin


def _revised(bulletin: Bulletin, now: datetime) -> None:
    """Record that a published bulletin's words changed (a new list: JSON is not tracked)."""
    bulletin.revisions = [*(bulletin.revisions or []), now.isoformat()]
