"""The evaluation command runs end to end: served feeds, the real poller, replay by clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_CODEPOINT = ROOT / "directory" / "data" / "codepo_demo.zip"


def item(n: int, label: str, title: str, summary: str, day: int, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"id": f"t-{n}", "force": extra.pop("force", "west-midlands"), "title": title,
            "summary": summary, "published": f"2026-10-{day:02}T09:00:00Z", "guid": f"guid-{n}",
            "link": f"https://police.example.org/news/{n}", "label": label,
            "postcodes": extra.pop("postcodes", []), "places": extra.pop("places", []),
            "resolves": extra.pop("resolves", None)}  # fmt: skip


ITEMS = [
    item(1, "appeal", "CCTV appeal after burglary in Wednesfield",
         "Officers are appealing for witnesses after a burglary near WV11 1AA.", 1,
         postcodes=["WV11 1AA"], places=["Wednesfield"]),
    item(2, "missing", "Missing 14-year-old Jayden from Heath Town",
         "Jayden was last seen near WV10 0. Have you seen him?", 2, postcodes=["WV10 0"]),
    item(3, "update", "Update: missing Jayden from Heath Town found safe",
         "Thank you for sharing our appeal: Jayden has been found safe and well.", 3,
         resolves="t-2"),
    item(4, "other", "Man jailed for robbery", "A man was sentenced at crown court.", 4,
         force="leicestershire"),
    # Published on the 1st, its lifetime (7 days) is over by the 20th: replayed by the clock,
    # it is still active when the warning of the 5th is read, then expires.
    item(5, "warning", "Warning: courier fraudsters", "Never hand your bank card to a courier.", 5),
    item(6, "appeal", "Witness appeal after assault", "Call 101 quoting log 55.", 20),
]  # fmt: skip


def test_the_evaluation_command_reports_what_the_service_made(tmp_path):
    items = tmp_path / "items.json"
    items.write_text(json.dumps(ITEMS))
    out = tmp_path / "out.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bulletins_eval.py"), str(items), "--codepoint",
         str(DEMO_CODEPOINT), "--cache", str(tmp_path / "cache"), "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (
        "kind accuracy: 100.0%" in run.stdout
        and "closures published as new alerts: 0" in run.stdout
    )
    written = json.loads(out.read_text())
    figures, made = written["figures"], {i["id"]: i["bulletin"] for i in written["items"]}
    assert figures["postcode_recall"] == 1.0 and figures["postcode_false_hits"] == 0
    assert figures["resolution_accuracy"] == 1.0 and figures["wrong_closures"] == 0
    assert made["t-4"] is None  # a court result is not a bulletin
    assert made["t-1"]["postcodes"] == ["WV11 1AA"] and made["t-1"]["precision"] == "postcode"
    assert made["t-2"]["status"] == "resolved" and made["t-2"]["resolved_by"] == "t-3"
    assert made["t-5"]["status"] == "expired"  # the clock moved past its lifetime
    assert made["t-1"]["area_km2"] > 0
    assert set(made["t-1"]) == {"kind", "status", "located_by", "precision", "postcodes",
                                "places", "area_km2", "resolved_by"}  # fmt: skip
