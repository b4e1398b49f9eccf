"""Official accounts are checked against their platform."""

import pytest

from directory.accounts import AccountInvalid, accounts_from_json, check_account


@pytest.mark.parametrize(
    ("platform", "url", "normal_platform", "normal_url"),
    [
        ("twitter", "https://twitter.com/centralleicsNPA", "x", "https://twitter.com/centralleicsNPA"),
        ("X", "https://x.com/WMPolice", "x", "https://x.com/WMPolice"),
        ("facebook", "https://www.facebook.com/leicspolice", "facebook",
         "https://www.facebook.com/leicspolice"),
        ("youtube", "https://www.youtube.com/watch?v=AM3Z7WiWksU", "youtube",
         "https://www.youtube.com/watch?v=AM3Z7WiWksU"),
        ("bluesky", "https://bsky.app/profile/wmpolice.bsky.social", "bluesky",
         "https://bsky.app/profile/wmpolice.bsky.social"),
        ("mastodon", "https://mastodon.social/@WV11news", "mastodon",
         "https://mastodon.social/@WV11news"),
        ("web", "https://www.police.uk", "web", "https://www.police.uk/"),
        ("rss", "https://www.westyorkshire.police.uk/news/releases/feed", "rss",
         "https://www.westyorkshire.police.uk/news/releases/feed"),
    ],
)  # fmt: skip
def test_accepted(platform, url, normal_platform, normal_url):
    account = check_account(platform, url, " @handle ")
    assert (account.platform, account.url, account.handle) == (
        normal_platform, normal_url, "@handle"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("platform", "url", "message"),
    [
        ("facebook", "https://evil.example/facebook.com", "is not a facebook address"),
        ("x", "https://x.com.evil.example/a", "is not a x address"),
        ("instagram", "https://facebook.com/a", "is not a instagram address"),
        ("mastodon", "https://mastodon.social/about", "not a Mastodon profile"),
        ("myspace", "https://myspace.com/thepolice", "not a supported platform"),
        ("web", "javascript:alert(1)", "must start with http"),
    ],
)
def test_refused(platform, url, message):
    with pytest.raises(AccountInvalid, match=message):
        check_account(platform, url)


def test_list_names_the_bad_entry():
    with pytest.raises(AccountInvalid, match="account 2: 'bebo' is not a supported platform"):
        accounts_from_json(
            [{"platform": "web", "url": "https://a.example/"}, {"platform": "bebo", "url": "x"}]
        )
