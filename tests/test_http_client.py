"""The outbound HTTP client: address guard, redirects, deadlines and size caps, on loopback."""

from __future__ import annotations

import gzip
import ipaddress
import time
import tracemalloc
import zlib

import pytest
from werkzeug import Response

from feeds.ingest.addresses import forbidden_reason
from feeds.ingest.http import FetchError, FetchPolicy, HttpClient

ONLY_127_0_0_1 = ("127.0.0.1/32",)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("151.101.0.81", None),
        ("2606:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("233.252.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("198.18.0.1", "private"),
        ("192.0.2.1", "private"),  # documentation range
        ("::ffff:127.0.0.1", "loopback address (inside"),
        ("::ffff:169.254.169.254", "link-local address (inside"),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::7f00:1", "loopback address (inside"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local address (inside"),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2002:7f00:1::", "loopback address (inside"),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ],
)
def test_address_rules(address, reason):
    found = forbidden_reason(ipaddress.ip_address(address))
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_allowed_networks_exempt_only_themselves():
    allowed = [ipaddress.ip_network("127.0.0.1/32")]
    assert forbidden_reason(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert forbidden_reason(ipaddress.ip_address("127.0.0.2"), allowed) is not None
    assert forbidden_reason(ipaddress.ip_address("10.0.0.1"), allowed) is not None


@pytest.fixture
def client() -> HttpClient:
    return HttpClient(FetchPolicy(allowed_networks=ONLY_127_0_0_1, max_bytes=1_000_000,
                                  total_timeout=3, read_timeout=2, connect_timeout=2))  # fmt: skip


def test_plain_fetch_sends_an_honest_user_agent(client, httpserver):
    httpserver.expect_request("/feed").respond_with_data(
        "<rss/>", content_type="application/rss+xml"
    )
    response = client.get(httpserver.url_for("/feed"))
    assert (response.status, response.body) == (200, b"<rss/>")
    assert response.headers["content-type"] == "application/rss+xml"
    assert httpserver.log[0][0].headers["User-Agent"].startswith("hyperlocal/")


def test_statuses_are_returned_not_raised(client, httpserver):
    for status in (304, 404, 410, 500):
        httpserver.expect_oneshot_request(f"/s{status}").respond_with_data("", status=status)
        assert client.get(httpserver.url_for(f"/s{status}")).status == status


def test_redirect_chain_is_followed_and_recorded(client, httpserver):
    for hop in range(3):
        httpserver.expect_request(f"/hop{hop}").respond_with_data(
            "", status=301, headers={"Location": f"/hop{hop + 1}"}
        )
    httpserver.expect_request("/hop3").respond_with_data("here")
    response = client.get(httpserver.url_for("/hop0"))
    assert response.body == b"here" and response.url.endswith("/hop3")
    assert [r.rsplit("/", 1)[1] for r in response.redirects] == ["hop1", "hop2", "hop3"]


def test_redirect_limits_and_loops(client, httpserver):
    for hop in range(10):
        httpserver.expect_request(f"/r{hop}").respond_with_data(
            "", status=302, headers={"Location": f"/r{hop + 1}"}
        )
    httpserver.expect_request("/loop").respond_with_data("", status=302,
                                                         headers={"Location": "/loop"})  # fmt: skip
    with pytest.raises(FetchError) as too_many:
        client.get(httpserver.url_for("/r0"))
    assert too_many.value.kind == "too_many_redirects"
    with pytest.raises(FetchError) as loop:
        client.get(httpserver.url_for("/loop"))
    assert loop.value.kind == "redirect_loop"


TARGETS = ["forbidden", "http://169.254.169.254/latest/meta-data/",
           "http://[::ffff:127.0.0.2]:{port}/", "ftp://127.0.0.1/"]  # fmt: skip


@pytest.mark.parametrize("target", TARGETS)
def test_redirects_to_forbidden_targets_never_reach_them(
    client, httpserver, forbidden_server, target
):
    port = forbidden_server.port
    location = forbidden_server.url_for("/") if target == "forbidden" else target.format(port=port)
    httpserver.expect_request("/go").respond_with_data("", status=302,
                                                       headers={"Location": location})  # fmt: skip
    with pytest.raises(FetchError) as raised:
        client.get(httpserver.url_for("/go"))
    assert raised.value.kind in ("forbidden_address", "bad_url")
    assert forbidden_server.log == []


def test_a_client_without_exemptions_refuses_loopback_before_connecting(httpserver):
    httpserver.expect_request("/").respond_with_data("x")
    strict = HttpClient(FetchPolicy())
    for host in ("127.0.0.1", "localhost"):
        with pytest.raises(FetchError) as raised:
            strict.get(f"http://{host}:{httpserver.port}/")
        assert raised.value.kind == "forbidden_address" and "loopback" in str(raised.value)
    assert httpserver.log == []


def test_gzip_bomb_is_cut_at_the_cap_with_bounded_memory(client, httpserver):
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)  # ~200 kB on the wire
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    with pytest.raises(FetchError) as raised:
        client.get(httpserver.url_for("/bomb"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert raised.value.kind == "too_large"
    assert peak < 20_000_000  # far below the 200 MB it would expand to


def test_deflate_and_gzip_bodies_are_decoded(client, httpserver):
    text = b"<rss>" + b"x" * 10_000 + b"</rss>"
    for path, data, encoding in [("/gz", gzip.compress(text), "gzip"),
                                 ("/df", zlib.compress(text), "deflate")]:  # fmt: skip
        httpserver.expect_request(path).respond_with_data(
            data, headers={"Content-Encoding": encoding}
        )
    assert client.get(httpserver.url_for("/gz")).body == text
    assert client.get(httpserver.url_for("/df")).body == text


def test_huge_body_is_cut_at_the_cap(client, httpserver):
    def endless():  # type: ignore[no-untyped-def]
        chunk = b"x" * 65536
        for _ in range(16_384):  # 1 GB if it were all read
            yield chunk

    httpserver.expect_request("/big").respond_with_response(Response(endless()))
    start = time.monotonic()
    with pytest.raises(FetchError) as raised:
        client.get(httpserver.url_for("/big"))
    assert raised.value.kind == "too_large" and time.monotonic() - start < 3


def test_a_dripping_server_meets_the_total_deadline(httpserver):
    def drip():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x"
            time.sleep(0.1)

    httpserver.expect_request("/drip").respond_with_response(Response(drip()))
    quick = HttpClient(FetchPolicy(allowed_networks=ONLY_127_0_0_1, total_timeout=1,
                                   read_timeout=5))  # fmt: skip
    start = time.monotonic()
    with pytest.raises(FetchError) as raised:
        quick.get(httpserver.url_for("/drip"))
    assert raised.value.kind == "timeout" and time.monotonic() - start < 2.5


def test_a_hanging_server_times_out(httpserver):
    def hang(request):  # type: ignore[no-untyped-def]
        time.sleep(2)
        return Response("late")

    httpserver.expect_request("/hang").respond_with_handler(hang)
    quick = HttpClient(FetchPolicy(allowed_networks=ONLY_127_0_0_1, total_timeout=0.8,
                                   read_timeout=0.5))  # fmt: skip
    with pytest.raises(FetchError) as raised:
        quick.get(httpserver.url_for("/hang"))
    assert raised.value.kind == "timeout"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9/", "connection"),  # nothing listens there
        ("http://no-such-host.invalid/", "dns"),
        ("javascript:alert(1)", "bad_url"),
        ("file:///etc/passwd", "bad_url"),
        ("http://user:pw@example.org/", "bad_url"),
    ],
)
def test_other_failures_have_kinds(client, url, kind):
    with pytest.raises(FetchError) as raised:
        client.get(url)
    assert raised.value.kind == kind


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_server_dripping_its_headers_meets_the_total_deadline(header_drip_server, method):
    """The deadline holds from connect to the last byte, the status line and headers included:
    each byte arrives inside the read timeout, so only the total deadline can end it."""
    quick = HttpClient(FetchPolicy(allowed_networks=ONLY_127_0_0_1, total_timeout=1.5,
                                   read_timeout=5))  # fmt: skip
    start = time.monotonic()
    with pytest.raises(FetchError) as raised:
        if method == "get":
            quick.get(header_drip_server + "/feed")
        else:
            quick.post(header_drip_server + "/hook", b"{}", {"Content-Type": "application/json"})
    assert raised.value.kind == "timeout"
    assert time.monotonic() - start < 2.5


def test_a_resolver_that_hangs_is_cut_at_the_total_deadline(monkeypatch, httpserver):
    """getaddrinfo has no timeout of its own; the fetch stops waiting for it at the deadline.
    (The resolver is the network edge: here one that answers after 5 s.)"""
    import socket

    real = socket.getaddrinfo

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    quick = HttpClient(FetchPolicy(allowed_networks=ONLY_127_0_0_1, total_timeout=1,
                                   connect_timeout=5))  # fmt: skip
    start = time.monotonic()
    with pytest.raises(FetchError) as raised:
        quick.get(httpserver.url_for("/feed"))
    assert raised.value.kind == "timeout" and time.monotonic() - start < 2


def test_an_ipv6_literal_url_is_fetched_and_still_guarded():
    """http://[::1]:port/ keeps its brackets through normalisation and is fetched, but only
    by a client that may reach ::1."""
    from pytest_httpserver import HTTPServer

    from directory.urls import normalise_url

    try:
        server = HTTPServer(host="::1", port=0)
        server.start()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    try:
        server.expect_request("/feed").respond_with_data("<rss/>")
        url = normalise_url(f"http://[::1]:{server.port}/feed")
        assert url.startswith("http://[::1]:")
        allowed = HttpClient(FetchPolicy(allowed_networks=("::1/128",)))
        assert allowed.get(url).body == b"<rss/>"
        with pytest.raises(FetchError) as raised:
            HttpClient(FetchPolicy(allowed_networks=ONLY_127_0_0_1)).get(url)
        assert raised.value.kind == "forbidden_address"
        assert len(server.log) == 1  # the refused client never reached it
    finally:
        server.clear()
        server.stop()


def test_raw_deflate_is_read_as_browsers_read_it(client, httpserver):
    """Content-Encoding: deflate should be zlib-wrapped, but many servers send raw deflate."""
    body = b"<rss>" + b"police appeal " * 500 + b"</rss>"
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw_body = raw.compress(body) + raw.flush()
    httpserver.expect_request("/raw").respond_with_data(
        raw_body, headers={"Content-Encoding": "deflate"})  # fmt: skip
    httpserver.expect_request("/zlib").respond_with_data(
        zlib.compress(body), headers={"Content-Encoding": "deflate"})  # fmt: skip
    assert client.get(httpserver.url_for("/raw")).body == body
    assert client.get(httpserver.url_for("/zlib")).body == body


def test_https_is_read_through_the_deadline_guard(tmp_path, monkeypatch):
    """TLS connections are read through the same deadline-bounded socket as plain ones, on a
    fresh and a pooled connection (a loopback server with a certificate made for the test)."""
    import shutil
    import ssl
    import subprocess

    from pytest_httpserver import HTTPServer

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for a loopback TLS server")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts only this certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    try:
        server.expect_request("/feed").respond_with_data(b"<rss>" + b"x" * 50_000 + b"</rss>")
        client = HttpClient(FetchPolicy(allowed_networks=ONLY_127_0_0_1, total_timeout=5))
        for _ in range(2):
            reply = client.get(f"https://127.0.0.1:{server.port}/feed")
            assert reply.status == 200 and len(reply.body) == 50_011
    finally:
        server.clear()
        server.stop()
