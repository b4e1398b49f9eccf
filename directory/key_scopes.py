"""Keys for what exists: a scope must name a site or a force the directory has.

``police:<force-id>`` and ``editor:<site-id>`` are checked against the forces and sites when a
key is made (over HTTP or with ``hyperlocal keys create``), so a typo cannot mint a key that
authorises nothing, or a key for a site that will be created later by someone else. This sits
above keys, sites and police, which know nothing of each other.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from directory.keys.store import InvalidScope, NewApiKey, create_api_key, parse_scope
from directory.police.models import PoliceForce
from directory.sites.models import Site


def check_scope_target(session: Session, scope: str) -> str:
    """The scope, if what it names exists; raises InvalidScope saying what is missing."""
    scope = parse_scope(scope)
    kind, _, name = scope.partition(":")
    if kind == "police" and session.get(PoliceForce, name) is None:
        raise InvalidScope(
            f"there is no police force '{name}' in the directory: import it first "
            f"(hyperlocal police import --force {name})"
        )
    if kind == "editor" and (int(name) >= 2**31 or session.get(Site, int(name)) is None):
        raise InvalidScope(f"there is no site {name}: an editor key is for a listed site")
    return scope


def create_scoped_key(session: Session, scope: str, label: str | None = None) -> NewApiKey:
    """A new key for a scope that names something real (see ``check_scope_target``)."""
    return create_api_key(session, check_scope_target(session, scope), label)
