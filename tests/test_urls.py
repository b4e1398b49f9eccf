"""URL normal form: one site, one URL."""

import pytest

from directory.urls import UrlInvalid, normalise_url, same_site


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://wv11.co.uk", "https://wv11.co.uk/"),
        ("HTTPS://WWW.Example.ORG:443/News/#top", "https://www.example.org/News/"),
        ("http://example.org:80/feed?x=1", "http://example.org/feed?x=1"),
        ("http://example.org:8080", "http://example.org:8080/"),
        ("  https://example.org/a b  ".replace(" b", "%20b"), "https://example.org/a%20b"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://example.org./", "https://example.org/"),
        ("http://[2001:db8::1]/feed", "http://[2001:db8::1]/feed"),  # IPv6 keeps its brackets
        ("http://[2001:DB8:0::1]:8080/feed", "http://[2001:db8::1]:8080/feed"),
        ("http://192.0.2.7/feed", "http://192.0.2.7/feed"),
    ],
)
def test_normal_form(given, normal):
    assert normalise_url(given) == normal


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "is required"),
        ("ftp://example.org/", "must start with http"),
        ("javascript:alert(1)", "must start with http"),
        ("example.org", "must start with http"),
        ("https://", "has no host name"),
        ("https://intranet/", "has no host name"),
        ("https://user:pw@example.org/", "user name or password"),
        ("https://exa mple.org/", "spaces or control characters"),
        ("https://example.org:99999/", "not a valid URL"),
        ("https://" + "a" * 2000 + ".org/", "longer than 2000"),
    ],
)
def test_refusals(given, message):
    with pytest.raises(UrlInvalid, match=message):
        normalise_url(given)


@pytest.mark.parametrize(
    ("given", "normal"),
    [("HTTPS://A.example/x", "https://a.example/x"), ("javascript:alert(1)", None), ("", None),
     (None, None), (42, None), ("  ", None)],
)  # fmt: skip
def test_url_or_none_drops_what_it_cannot_use(given, normal):
    from directory.urls import url_or_none

    assert url_or_none(given) == normal


@pytest.mark.parametrize(
    ("url", "other", "same"),
    [
        ("https://www.west-midlands.police.uk/news", "https://west-midlands.police.uk/rss", True),
        # police.uk is a public suffix: two forces are two owners.
        ("https://www.west-midlands.police.uk/", "https://www.met.police.uk/feed", False),
        ("https://news.example.co.uk/", "http://feeds.example.co.uk:8080/rss", True),
        ("https://example.co.uk/", "https://other.co.uk/", False),
        ("https://blog.github.io/", "https://attacker.github.io/feed", False),  # private suffix
        ("http://127.0.0.1:5000/", "http://127.0.0.1:6000/feed", True),
        ("http://127.0.0.1/", "http://127.0.0.2/feed", False),
        ("http://[2001:db8::1]/", "http://[2001:db8::1]:81/feed", True),
        ("http://localhost/", "http://localhost:81/feed", True),
        ("https://example.org/", "not a url", False),
    ],
)
def test_same_site_is_the_registrable_domain(url, other, same):
    assert same_site(url, other) is same
