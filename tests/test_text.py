"""Plain text out of upstream HTML."""

import pytest

from directory.text import folded, plain_text


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        ("<p>The <b>City Centre</b> team &amp; friends.</p>", "The City Centre team & friends."),
        ("Call&nbsp;101<br/>or visit", "Call 101\nor visit"),
        ("<script>alert(1)</script>Safe", "Safe"),
        ('<img src=x onerror="alert(1)">Hi', "Hi"),
        ("Sgt. Jo Bloggs &lt;3", "Sgt. Jo Bloggs <3"),
        ("<p>one</p>\n\n\n<p>two</p>", "one\n\ntwo"),
        (None, ""),
        ("a\x00b", "ab"),
    ],
)
def test_plain_text(given, plain):
    assert plain_text(given) == plain


def test_limit():
    assert plain_text("x" * 50, limit=10) == "x" * 10


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Ünïcødé  Café", "unicode cafe"),
        ("STRASSE Straße", "strasse strasse"),
        ("Ynys Môn", "ynys mon"),
        ("ﬁeld", "field"),
        ("Æthelred Łódź", "aethelred lodz"),
        ("", ""),
        (None, ""),
    ],
)
def test_folded_is_what_searches_compare(given, expected):
    assert folded(given) == expected
