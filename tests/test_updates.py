"""What an update closes: sequences of police items (an appeal, then its update) in the shapes
forces write them, decided by the pure linker; and through the database, an expired target and
a person found by another force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feeds.syndication.bulletins import expire_bulletins, post_bulletin
from feeds.syndication.models import Bulletin
from feeds.syndication.updates import referenced_by, subject_of

T0 = datetime(2026, 9, 1, 9, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def bulletin(kind: str, title: str, body: str = "", places=(), days: float = 0,  # type: ignore[no-untyped-def]
             **extra) -> Bulletin:  # fmt: skip
    return Bulletin(id=next(_ids), kind=kind, title=title, body_html=f"<p>{body}</p>",
                    published_at=T0 + timedelta(days=days), places=list(places),
                    guid=extra.get("guid"), link=extra.get("link"))  # fmt: skip


KAYLA = bulletin("missing", "Concern for missing Bradford teenager Kayla",
                 "Kayla, 15, was last seen near Leeds Road on Sunday 6 September.",
                 places=["Bradford"])  # fmt: skip
ELLIE = bulletin("missing", "Ellie-Mae, 13, missing from Kirkdale", "She may be in Walton.",
                 places=["Kirkdale", "Walton"])  # fmt: skip
TYLER = bulletin("missing", "Have you seen Tyler? 15-year-old missing from Wythenshawe",
                 "He was last seen at the bus station.")  # fmt: skip
JACK_15 = bulletin("missing", "Missing boy Jack, 15, from Heath Town", places=["Heath Town"])
JACK_42 = bulletin("missing", "Concern for Jack, 42, missing from Bilston", places=["Bilston"])
STABBING = bulletin("appeal", "Appeal after man stabbed on Brigstock Road, Thornton Heath",
                    "Police were called on Tuesday 2 June; quoting CAD 7731/02Jun.",
                    places=["Thornton Heath"])  # fmt: skip
IMAGE = bulletin("wanted", "Do you recognise this man? Image released following theft in Penrith",
                 "A theft from a shop in Penrith town centre on Saturday 17 October.",
                 places=["Penrith"])  # fmt: skip
BURGLARY = bulletin("appeal", "Appeal after burglary on High Street on Tuesday",
                    "A house was broken into in June; call 101 quoting 13260498213.")  # fmt: skip
FLOOD = bulletin("warning", "Flooding: the A591 is closed at Grasmere", places=["Grasmere"])


@pytest.mark.parametrize(
    ("earlier", "update", "closes"),
    [
        # A first name with the same age; a short "has been found" of a name alone.
        ([KAYLA, ELLIE], ("Kayla, 15, has been found", "Thank you for sharing."), KAYLA),
        ([KAYLA, ELLIE], ("UPDATE: Ellie-Mae found", "Ellie-Mae has been found safe."), ELLIE),
        ([TYLER, KAYLA], ("Missing Wythenshawe boy found", "Tyler has been found safe and "
                          "well."), TYLER),
        # Two missing people of one name: the age says which.
        ([JACK_15, JACK_42], ("Jack, 42, has been found", "He is safe."), JACK_42),
        # A road and a date, weeks later, with no word in common with the title.
        ([STABBING, BURGLARY], ("Man charged after Brigstock Road stabbing",
                                "Marlon Osei, 26, was charged over the stabbing on 2 June."),
         STABBING),
        # An appeal withdrawn in so many words, by place and offence.
        ([IMAGE, BURGLARY], ("Appeal withdrawn: Penrith shop theft",
                             "The man has been identified and the image removed.", ["Penrith"]),
         IMAGE),
        # The same reference number.
        ([BURGLARY, STABBING], ("Arrest after house burglary", "Quoting 13260498213: a man, "
                                "31, has been arrested."), BURGLARY),
        # A charge is not news of a missing person, whatever road they share.
        ([KAYLA], ("Man charged after robbery on Leeds Road", "Charged on Sunday 6 "
                   "September."), None),
        # Weekdays, months, "High Street" are not a subject.
        ([BURGLARY], ("Man charged after High Street assault on Tuesday", "In June."), None),
        # A warning ends when it is over, not when someone is charged nearby.
        ([FLOOD], ("Man charged after crash at Grasmere", ""), None),
        ([FLOOD], ("A591 at Grasmere reopened", "The road has reopened after flooding.",
                   ["Grasmere"]), FLOOD),
    ],
)  # fmt: skip
def test_an_update_closes_what_it_is_about(earlier, update, closes) -> None:  # type: ignore[no-untyped-def]
    item = bulletin("update", *update, days=10)
    link = referenced_by(item, earlier)
    assert link.target is closes, link.reason


def test_two_that_fit_as_well_close_nothing_and_say_why() -> None:
    one = bulletin("appeal", "Appeal after shed burglary on Fell Lane, Shap", places=["Shap"])
    two = bulletin("appeal", "Shed burglary on Fell Lane, Shap: can you help?", places=["Shap"])
    update = bulletin("update", "Man charged over Fell Lane shed burglary", days=3,
                      places=["Shap"])  # fmt: skip
    link = referenced_by(update, [one, two])
    assert link.target is None and link.reason.startswith("ambiguous")


def test_another_forces_bulletin_needs_the_person_said_again() -> None:
    found = bulletin("update", "Teenager found in Leicester", "Kayla, 15, from Bradford was "
                     "found safe in Leicester.", days=2)  # fmt: skip
    assert referenced_by(found, [KAYLA], people_only=True).target is KAYLA
    vague = bulletin("update", "Bradford teenager found", "A girl was found in Leicester.", days=2)
    assert referenced_by(vague, [KAYLA], people_only=True).target is None


def test_weekdays_months_and_street_words_are_not_names() -> None:
    subject = subject_of("Appeal after burglary on High Street\nOn Tuesday 2 June, in Walsall, "
                         "Mark Jones, 44, saw St Mary's Road.")  # fmt: skip
    assert ("mark", 44) in subject.people and "mark jones" in subject.full_names
    assert not {"tuesday", "june", "high", "street", "st"} & subject.names
    assert (2, "june") in subject.dates and "high street" in subject.roads


def test_an_expired_bulletin_is_resolved_by_its_update_and_one_force_closes_anothers(
    demo_directory,
) -> None:  # type: ignore[no-untyped-def]
    sessions = demo_directory.extensions["hyperlocal_db"].sessions
    start = datetime.now(UTC) - timedelta(days=20)
    with sessions() as session:
        title = "Concern for Jayden, 14, missing from Wednesfield"
        missing = post_bulletin(session, "west-midlands", kind="missing", now=start,
                                title=title).bulletin  # fmt: skip
        session.commit()
        assert expire_bulletins(session, now=start + timedelta(days=15)) >= 1
        session.commit()
        assert missing.status == "expired"
        found = post_bulletin(session, "west-midlands", kind="update",
                              title="Jayden, 14, has been found safe").bulletin  # fmt: skip
        session.commit()
        assert (missing.status, missing.resolved_by_id) == ("resolved", found.id)
        assert "person: jayden (14)" in missing.resolution
        # Leicestershire announces a West Midlands missing man found in its area.
        wanted = post_bulletin(session, "west-midlands", kind="missing",
                               title="Missing Bilston man Darren, 52").bulletin  # fmt: skip
        session.commit()
        title = "Darren, 52, from Bilston found safe in Leicester"
        other = post_bulletin(session, "leicestershire", kind="update", title=title).bulletin
        session.commit()
        assert (wanted.status, wanted.resolved_by_id) == ("resolved", other.id)
