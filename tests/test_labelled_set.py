"""The labelled police items (tests/data/bulletins_eval.json): well formed, and what the pure
rules make of them. Kind and postcodes need no database, so the whole set runs in every build;
places and resolution need the full postcode data (bench/bulletins_eval.py)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from directory.geography.postcode_format import parse_postcode
from feeds.syndication.classify import classify
from feeds.syndication.mentions import postcode_mentions

ITEMS = json.loads((Path(__file__).parent / "data" / "bulletins_eval.json").read_text("utf-8"))
LABELS = {"appeal", "missing", "wanted", "warning", "update", "other"}
FIELDS = {"id", "force", "title", "summary", "published", "guid", "link", "label", "postcodes",
          "places", "resolves"}  # fmt: skip


def test_the_set_is_well_formed():
    assert len(ITEMS) >= 300 and len({i["force"] for i in ITEMS}) >= 10
    assert all(set(i) == FIELDS and i["label"] in LABELS for i in ITEMS)
    assert len({i["id"] for i in ITEMS}) == len({i["guid"] for i in ITEMS}) == len(ITEMS)
    by_id = {i["id"]: i for i in ITEMS}
    for item in ITEMS:
        text = f"{item['title']} {item['summary']}"
        assert all(place in text for place in item["places"]), item["id"]
        for code in item["postcodes"]:
            assert parse_postcode(code).display == code, item["id"]
        if item["resolves"]:
            target = by_id[item["resolves"]]
            assert item["label"] == "update" and target["force"] == item["force"]
            assert datetime.fromisoformat(target["published"]) < datetime.fromisoformat(
                item["published"]
            )


def test_kinds_are_right_and_no_closure_is_a_new_alert():
    made = {i["id"]: classify(i["title"], i["summary"]).kind or "other" for i in ITEMS}
    wrong = [(i["id"], i["label"], made[i["id"]]) for i in ITEMS if made[i["id"]] != i["label"]]
    assert len(wrong) <= 0.03 * len(ITEMS), wrong
    alerts = {"appeal", "missing", "wanted", "warning"}
    assert not [i["id"] for i in ITEMS if i["label"] == "update" and made[i["id"]] in alerts]


def test_every_postcode_a_reader_finds_and_nothing_else():
    missed, extra = [], []
    for item in ITEMS:
        found = {m.code for m in postcode_mentions(f"{item['title']}\n{item['summary']}")}
        wanted = set(item["postcodes"])
        missed += [(item["id"], c) for c in wanted - found]
        extra += [(item["id"], c) for c in found - wanted]
    assert not missed and not extra, (missed, extra)
