"""URL policy: which links the service downloads. No traffic leaves this machine: private and
metadata addresses are only ever reached through a stubbed resolver, refused before connecting."""

from __future__ import annotations

import socket

import pytest
from local_http import stub_resolver

from vtxlib import netguard
from vtxlib.acquire import acquire
from vtxlib.errors import InputError
from vtxlib.netguard import UrlPolicy, check_url, url_policy
from vtxlib.workspace import Workspace

REFUSED = ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
           "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
           "::1", "::", "fe80::1", "fd00::1", "fc00::5", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
           "::ffff:10.0.0.1", "2002:7f00:1::1", "64:ff9b::a9fe:a9fe", "2001:db8::1", "fe80::1%2"]
ALLOWED = ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_local_private_and_reserved_addresses_are_refused(address):
    assert not UrlPolicy().permits(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert UrlPolicy().permits(address)


def test_an_allow_list_admits_named_networks_only():
    policy = UrlPolicy.from_strings(["10.0.0.0/8", "127.0.0.1"])
    assert policy.permits("10.9.8.7") and policy.permits("127.0.0.1") and policy.permits("::ffff:10.0.0.1")
    assert not policy.permits("127.0.0.2") and not policy.permits("169.254.169.254")
    with pytest.raises(InputError, match="--allow-url-network"):
        UrlPolicy.from_strings(["not-a-network"])


def test_check_url_resolves_the_host_and_refuses_metadata_addresses(monkeypatch):
    stub_resolver(monkeypatch, {"metadata.test": "169.254.169.254", "public.test": "93.184.216.34",
                                "mapped.test": "::ffff:127.0.0.1"})
    assert check_url("https://public.test/v.mp4", UrlPolicy()) == "https://public.test/v.mp4"
    for url in ("http://metadata.test/latest/meta-data", "http://169.254.169.254/latest/meta-data",
                "http://mapped.test/", "http://[::1]:8000/status", "http://127.0.0.1:8000/status"):
        with pytest.raises(InputError, match="refused by the URL policy"):
            check_url(url, UrlPolicy())
    with pytest.raises(InputError, match="unsupported scheme"):
        check_url("file:///etc/passwd", UrlPolicy())


def test_credentials_are_refused_and_never_echoed():
    with pytest.raises(InputError) as caught:
        check_url("https://alice:hunter2@public.test/v.mp4", UrlPolicy())
    assert "hunter2" not in str(caught.value) and "alice" not in str(caught.value)
    assert netguard.redact("https://alice:hunter2@h.test/x") == "https://h.test/x"


def test_a_redirect_to_a_refused_address_is_stopped_before_connecting(tmp_path, monkeypatch):
    """Hop 1 (127.0.0.1, allow-listed) redirects to a host that resolves to 127.0.0.2: the policy
    refuses it at resolution, so the server listening there never sees a request."""
    from local_http import LocalServer

    stub_resolver(monkeypatch, {"inside.test": "127.0.0.2"})
    with LocalServer({"/secret": (200, {"Content-Type": "audio/wav"}, b"RIFF")}, host="127.0.0.2") as inside:
        target = f"http://inside.test:{inside.port}/secret"
        with LocalServer({"/talk.wav": (302, {"Location": target}, b"")}) as outside:
            policy = UrlPolicy.from_strings(["127.0.0.1/32"])
            with url_policy(policy), pytest.raises(InputError, match="private|loopback"):
                acquire(outside.url("/talk.wav"), Workspace(tmp_path / "ws"))
            assert outside.hits  # the first hop was allowed
        assert inside.hits == []  # the redirect target was never contacted
    assert socket.getaddrinfo.__name__ == "fake"  # the guard removed itself


def test_without_a_policy_local_links_still_work_for_the_cli(tmp_path):
    from local_http import LocalServer

    with LocalServer({"/a.wav": (200, {"Content-Type": "audio/wav"}, b"RIFF" + bytes(100))}) as server:
        info = acquire(server.url("/a.wav"), Workspace(tmp_path / "ws"))
    assert info.kind == "url" and server.hits


def test_an_allow_listed_address_downloads_under_the_policy(tmp_path):
    from local_http import LocalServer

    body = b"RIFF" + bytes(100)
    with LocalServer({"/a.wav": (200, {"Content-Type": "audio/wav"}, body)}) as server:
        with url_policy(UrlPolicy.from_strings(["127.0.0.1/32"])):
            info = acquire(server.url("/a.wav"), Workspace(tmp_path / "ws"))
        with url_policy(UrlPolicy()), pytest.raises(InputError, match="refused by the URL policy"):
            acquire(server.url("/a.wav"), Workspace(tmp_path / "other"))
    assert open(info.path, "rb").read() == body
