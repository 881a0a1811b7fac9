"""The destination check of webhooks (server-side request forgery guard) and the Standard
Webhooks signature, without a server."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from standardwebhooks.webhooks import Webhook

from screening.notify import addresses, signing


def resolving_to(*ips: str) -> addresses.Resolver:
    """A resolver answering ``ips`` for any name (a DNS record we do not control here)."""
    return lambda host, port: list(ips)


@pytest.mark.parametrize("ips", [
    ("10.1.2.3",), ("192.168.0.10",), ("172.16.5.5",), ("127.0.0.1",),
    ("169.254.169.254",), ("fd00::1",), ("::ffff:10.0.0.1",), ("93.184.215.14", "10.0.0.1"),
])
def test_a_name_resolving_to_any_non_public_address_is_refused(ips: tuple[str, ...]) -> None:
    with pytest.raises(addresses.ForbiddenDestination):
        addresses.check_url("https://hooks.clinic.example/x", allow_private=False,
                            resolver=resolving_to(*ips))


@pytest.mark.parametrize("ip", [
    "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",  # NAT64 of 10/8, loopback, metadata
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:a00:1::1", "2002:7f00:1::1",  # 6to4 of 10.0.0.1, 127.0.0.1
    "::7f00:1", "::ffff:0:7f00:1",  # IPv4-compatible, IPv4-translated 127.0.0.1
    "fec0::1",  # site-local
])
def test_an_ipv6_address_reaching_a_non_public_ipv4_address_or_not_global_is_refused(
        ip: str) -> None:
    with pytest.raises(addresses.ForbiddenDestination, match="non-public"):
        addresses.check_url("https://hooks.clinic.example/x", allow_private=False,
                            resolver=resolving_to(ip))


@pytest.mark.parametrize("ip", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "2606:4700::1"])
def test_an_ipv6_address_reaching_a_public_ipv4_address_is_allowed(ip: str) -> None:
    # DNS64 answers an IPv4-only receiver with a NAT64 address of its public one.
    destination = addresses.check_url("https://hooks.clinic.example/x", allow_private=False,
                                      resolver=resolving_to(ip))
    assert destination.address == ip


def test_the_checked_address_is_the_one_to_connect_to() -> None:
    destination = addresses.check_url("https://hooks.clinic.example:8443/in?x=1",
                                      allow_private=False,
                                      resolver=resolving_to("93.184.215.14"))
    assert (destination.address, destination.host, destination.port, destination.target) == (
        "93.184.215.14", "hooks.clinic.example", 8443, "/in?x=1")


def test_every_checked_address_is_kept_in_the_resolvers_order() -> None:
    destination = addresses.check_url(
        "https://hooks.clinic.example/in", allow_private=False,
        resolver=resolving_to("2606:4700::1", "93.184.215.14", "93.184.215.15"))
    assert destination.addresses == ("2606:4700::1", "93.184.215.14", "93.184.215.15")


def test_a_path_with_non_ascii_characters_is_sent_percent_encoded() -> None:
    destination = addresses.check_url("https://hooks.clinic.example/événements/€?q=ü&r=%20",
                                      allow_private=False,
                                      resolver=resolving_to("93.184.215.14"))
    assert destination.target == "/%C3%A9v%C3%A9nements/%E2%82%AC?q=%C3%BC&r=%20"


def test_allow_private_admits_private_addresses_and_http() -> None:
    destination = addresses.check_url("http://ehr.local/in", allow_private=True,
                                      resolver=resolving_to("10.1.2.3"))
    assert destination.address == "10.1.2.3"


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/x", "https://[::1]/x", "https://169.254.169.254/x",
    # other spellings of loopback: not addresses to ``ipaddress``, so the resolver reads them
    "https://2130706433/x", "https://127.1/x", "https://0x7f.0.0.1/x",
])
def test_an_address_in_any_spelling_is_checked_with_the_real_resolver(url: str) -> None:
    with pytest.raises(addresses.ForbiddenDestination, match="non-public"):
        addresses.check_url(url, allow_private=False)


def test_an_address_written_as_one_is_itself_without_a_resolver_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lookup(*args: object, **kwargs: object) -> list[object]:
        raise AssertionError("getaddrinfo was called")

    monkeypatch.setattr(addresses.socket, "getaddrinfo", no_lookup)
    assert addresses.resolve("93.184.215.14", 443) == ["93.184.215.14"]
    assert addresses.resolve("2001:db8::1", 443) == ["2001:db8::1"]


def test_an_unresolvable_name_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(addresses.ForbiddenDestination, match="does not resolve"):
        addresses.check_url("https://nowhere.invalid/", allow_private=False, resolver=fail)


def test_the_same_url_is_resolved_and_judged_again_at_every_check() -> None:
    """What depends only on the URL's text is remembered between checks; the name's
    resolution and the judgement of its addresses never are (DNS can change), nor is an
    allowance for private receivers carried over to a check without one."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"], ["10.0.0.5"], ["10.0.0.5"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    url = "http://hooks.clinic.example/x"
    assert addresses.check_url(url.replace("http:", "https:"), allow_private=False,
                               resolver=rebinding).address == "93.184.215.14"
    with pytest.raises(addresses.ForbiddenDestination, match="non-public"):
        addresses.check_url(url.replace("http:", "https:"), allow_private=False,
                            resolver=rebinding)
    assert addresses.check_url(url, allow_private=True, resolver=rebinding).address == (
        "10.0.0.5")
    with pytest.raises(addresses.ForbiddenDestination, match="https://"):
        addresses.check_url(url, allow_private=False, resolver=rebinding)
    assert calls == ["hooks.clinic.example"] * 3


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    secret = signing.new_secret()
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    now = int(dt.datetime.now(dt.UTC).timestamp())
    body = b'{"type":"webhook.test"}'
    headers = signing.headers([secret], "msg_1", now, body)
    assert Webhook(secret).verify(body, headers) == {"type": "webhook.test"}
    assert Webhook(secret).sign("msg_1", dt.datetime.fromtimestamp(now, dt.UTC),
                                body.decode()) == headers["webhook-signature"]
