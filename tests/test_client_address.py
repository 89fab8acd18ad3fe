"""Tests for L{hookdaemon.client_address}: whom to believe about who is calling, and how."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.client_address import (
    PROXY_HEADERS,
    UNKNOWN,
    client_address,
    loopback_host,
    parse_address,
    proxy_header,
)
from hookdaemon.config import Network
from hookdaemon.intake import client_allowed


def networks(*texts: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


PROXIES = networks("127.0.0.0/8", "::1/128", "10.9.0.0/16", "fd00:9::/32")
"""A loopback nginx and an inner load-balancer network."""


def resolve(peer: str, xff: list[str] | None = None, real: list[str] | None = None) -> str:
    return client_address(peer, xff or [], real or [], PROXIES)


class ParseAddressTests(SynchronousTestCase):
    def test_formsProxiesWrite(self) -> None:
        for text, expected in [
            ("203.0.113.9", "203.0.113.9"),
            ("  203.0.113.9\t", "203.0.113.9"),
            ("203.0.113.9:5678", "203.0.113.9"),
            ("2001:DB8:0:0::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("[::ffff:10.0.0.1]:80", "10.0.0.1"),
        ]:
            self.assertEqual(str(parse_address(text)), expected, text)

    def test_notAnAddressIsNone(self) -> None:
        for text in [
            "",
            "   ",
            "unknown",
            "_hidden",
            "example.com",
            "203.0.113.9:",
            "203.0.113.9:http",
            "203.0.113.9:123456",
            "203.000.113.9",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[2001:db8::1]:",
            "2001:db8::1:443:x",
            "1.2.3.4.5",
        ]:
            self.assertIsNone(parse_address(text), text)


class ClientAddressTests(SynchronousTestCase):
    def test_untrustedPeerIsTheClient(self) -> None:
        self.assertEqual(resolve("203.0.113.9", ["10.0.0.7"], ["10.0.0.8"]), "203.0.113.9")

    def test_peerIsNormalised(self) -> None:
        self.assertEqual(resolve("2001:DB8:0::1"), "2001:db8::1")
        self.assertEqual(resolve("::ffff:203.0.113.9"), "203.0.113.9")

    def test_mappedLoopbackPeerIsTrusted(self) -> None:
        """A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; 127.0.0.0/8 still matches."""
        self.assertEqual(resolve("::ffff:127.0.0.1", ["203.0.113.9"]), "203.0.113.9")

    def test_trustedPeerWithoutHeadersIsTheClient(self) -> None:
        self.assertEqual(resolve("127.0.0.1"), "127.0.0.1")

    def test_rightmostUntrustedForwardedAddress(self) -> None:
        """Whatever the caller wrote on the left is ignored; the proxy's own entry wins."""
        self.assertEqual(resolve("127.0.0.1", ["10.0.0.7, 203.0.113.9"]), "203.0.113.9")
        self.assertEqual(
            resolve("127.0.0.1", ["10.0.0.7, 203.0.113.9, 10.9.1.1 , 127.0.0.1"]),
            "203.0.113.9",
        )

    def test_severalHeadersAreOneList(self) -> None:
        self.assertEqual(
            resolve("127.0.0.1", ["10.0.0.7", "203.0.113.9, 10.9.0.1", "10.9.0.2"]),
            "203.0.113.9",
        )

    def test_allHopsTrustedIsTheLeftmost(self) -> None:
        self.assertEqual(resolve("127.0.0.1", ["10.9.0.5, 10.9.0.6"]), "10.9.0.5")

    def test_portsAndIPv6InForwardedFor(self) -> None:
        self.assertEqual(resolve("::1", ["[2001:DB8::7]:443"]), "2001:db8::7")
        self.assertEqual(resolve("::1", ["203.0.113.9:5678"]), "203.0.113.9")
        self.assertEqual(resolve("::1", ["2001:db8::7, [fd00:9::1]:80"]), "2001:db8::7")

    def test_unreadableHopIsUnknownNotTheProxy(self) -> None:
        """
        A hop we trust wrote something that is not an address: the client is
        unknown, never the trusted proxy's own (perhaps allowed) address, and
        never an address further left that nobody vouches for.
        """
        for forwarded in [
            ["unknown"],
            [""],
            ["garbage"],
            ["10.0.0.7, unknown"],
            ["10.0.0.7, "],
            ["10.0.0.7", ""],
            ["10.0.0.7, _obfuscated, 10.9.0.1"],
        ]:
            self.assertEqual(resolve("127.0.0.1", forwarded), UNKNOWN, forwarded)

    def test_unknownIsInNoNetwork(self) -> None:
        self.assertFalse(client_allowed(networks("0.0.0.0/0", "::/0"), UNKNOWN))

    def test_unreadableHopLeftOfTheClientDoesNotMatter(self) -> None:
        self.assertEqual(resolve("127.0.0.1", ["garbage, 203.0.113.9"]), "203.0.113.9")

    def test_realIpOnlyWithoutForwardedFor(self) -> None:
        self.assertEqual(resolve("127.0.0.1", real=["203.0.113.9"]), "203.0.113.9")
        self.assertEqual(resolve("127.0.0.1", real=[" [2001:db8::9]:1 "]), "2001:db8::9")
        self.assertEqual(resolve("127.0.0.1", ["198.51.100.1"], ["203.0.113.9"]), "198.51.100.1")

    def test_unreadableOrRepeatedRealIpIsUnknown(self) -> None:
        self.assertEqual(resolve("127.0.0.1", real=["unknown"]), UNKNOWN)
        self.assertEqual(resolve("127.0.0.1", real=["203.0.113.9, 10.0.0.7"]), UNKNOWN)
        self.assertEqual(resolve("127.0.0.1", real=["203.0.113.9", "10.0.0.7"]), UNKNOWN)

    def test_noPeerAddressIsUnknown(self) -> None:
        """A UNIX socket has no peer address, and its headers are nobody's word."""
        self.assertEqual(resolve("", ["203.0.113.9"]), UNKNOWN)

    def test_noTrustedProxiesBelievesNoHeader(self) -> None:
        self.assertEqual(
            client_address("127.0.0.1", ["203.0.113.9"], ["203.0.113.8"], ()), "127.0.0.1"
        )


class ProxyHeaderTests(SynchronousTestCase):
    def test_eachProxyHeaderInAnyCase(self) -> None:
        for name in PROXY_HEADERS:
            for written in (name, name.lower(), name.upper()):
                self.assertEqual(proxy_header(["Host", written, "Accept"]), name, written)

    def test_headersClientsSendAreNotProxyHeaders(self) -> None:
        """What curl, a browser and nginx's plain proxy_pass send (nginx adds only Connection)."""
        names = ["Host", "User-Agent", "Accept", "Connection", "Authorization", "Cookie"]
        names += ["Origin", "Referer", "Sec-Fetch-Site", "Content-Type", "X-Request-Id"]
        self.assertIsNone(proxy_header(names))
        self.assertIsNone(proxy_header([]))

    def test_theListNamesTheHeadersTheIssueSaw(self) -> None:
        for name in ("Forwarded", "Via", "X-Forwarded-For", "X-Real-IP"):
            self.assertIn(name, PROXY_HEADERS)


class LoopbackHostTests(SynchronousTestCase):
    def test_namesAndAddressesOfThisMachine(self) -> None:
        for host in [
            "localhost",
            "localhost:9000",
            "LOCALHOST",
            "localhost.",
            "localhost.:9000",
            "api.localhost",
            "a-b.c_d.Localhost.:1",
            "127.0.0.1",
            "127.0.0.1:9000",
            "127.255.3.4:65535",
            "[::1]",
            "[::1]:9000",
            "[0:0:0:0:0:0:0:1]:80",
            "[::ffff:127.0.0.1]",
            " localhost ",
            "localhost:",
        ]:
            self.assertTrue(loopback_host(host), host)

    def test_namesADnsAnswerChooses(self) -> None:
        for host in [
            "",
            "evil.example",
            "evil.example:9000",
            "localhost.evil.example",
            "localhost-evil.example",
            "evillocalhost",
            "backend",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "0.0.0.0",
            "[::]",
            "[::2]",
            "[::ffff:10.0.0.1]",
            "[2001:db8::1]:80",
        ]:
            self.assertFalse(loopback_host(host), host)

    def test_malformedHostsAreNotLoopback(self) -> None:
        for host in [
            "::1",
            "[::1",
            "[::1]x",
            "[::1]:80:",
            "[localhost]",
            "127.1",
            "127.000.0.1",
            "localhost:http",
            "localhost:123456",
            "localhost:80:80",
            ":80",
            "localhost..",
            ".localhost",
            "a..localhost",
            "-a.localhost",
            "user@localhost",
            "localhost/x",
            "local host",
            "localhost\x00",
            "x" * 64 + ".localhost",
        ]:
            self.assertFalse(loopback_host(host), host)


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
address = st.one_of(ipv4, ipv6)
entry = st.one_of(
    address,
    ipv4.map(lambda a: f"{a}:8080"),
    ipv6.map(lambda a: f"[{a}]:443"),
    st.sampled_from(["unknown", "", " ", "_x", "garbage"]),
    st.text(max_size=12),
)
header = st.lists(entry, max_size=4).map(", ".join)
headers = st.lists(header, max_size=3)
trusted_sets = st.lists(
    st.sampled_from(
        ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "192.168.0.0/16", "fd00::/8", "0.0.0.0/0"]
    ),
    max_size=3,
).map(lambda ts: networks(*ts))
our_hop = st.sampled_from(["10.9.1.1", "10.9.2.2:80", "[fd00:9::5]:443", "127.0.0.1", "::1"])


class ClientAddressProperties(SynchronousTestCase):
    @given(peer=address, forwarded=headers, real=headers, trusted=trusted_sets)
    def test_untrustedPeersHeadersChangeNothing(
        self, peer: str, forwarded: list[str], real: list[str], trusted: tuple[Network, ...]
    ) -> None:
        parsed = parse_address(peer)
        assert parsed is not None
        if any(parsed in n for n in trusted):
            return
        self.assertEqual(client_address(peer, forwarded, real, trusted), str(parsed))

    @given(peer=address, forwarded=headers, real=headers, added=st.lists(our_hop))
    def test_appendingTrustedProxiesChangesNothing(
        self, peer: str, forwarded: list[str], real: list[str], added: list[str]
    ) -> None:
        """Another hop of ours in the chain (a load balancer before nginx) is invisible."""
        before = client_address(peer, forwarded, real, PROXIES)
        if not forwarded:
            return  # Appending to no header creates one: a different question.
        after = client_address(peer, [*forwarded, *added], real, PROXIES)
        self.assertEqual(after, before)

    @given(peer=address, forwarded=headers, real=headers, trusted=trusted_sets)
    def test_resultIsUnknownOrANormalisedAddress(
        self, peer: str, forwarded: list[str], real: list[str], trusted: tuple[Network, ...]
    ) -> None:
        client = client_address(peer, forwarded, real, trusted)
        if client != UNKNOWN:
            parsed = parse_address(client)
            assert parsed is not None
            self.assertEqual(str(parsed), client)
            # Never the IPv4-mapped form (2001:20::ffff:0 merely contains ":ffff:").
            self.assertFalse(
                isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None,
                client,
            )


dns_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
dns_name = st.lists(dns_label, min_size=1, max_size=4).map(".".join)
port = st.one_of(st.just(""), st.integers(0, 65535).map(lambda p: f":{p}"))


class LoopbackHostProperties(SynchronousTestCase):
    @given(name=dns_name, port=port, dot=st.sampled_from(["", "."]))
    def test_onlyLocalhostNamesAmongDnsNames(self, name: str, port: str, dot: str) -> None:
        host = name + dot + port
        local = name.split(".")[-1] == "localhost"
        self.assertEqual(loopback_host(host), local or _is_loopback_ipv4(name), host)

    @given(address=st.ip_addresses(), port=port)
    def test_anAddressIsLoopbackExactlyWhenItIs(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: str
    ) -> None:
        text = str(address) if address.version == 4 else f"[{address}]"
        mapped = getattr(address, "ipv4_mapped", None)
        expected = address.is_loopback or (mapped is not None and mapped.is_loopback)
        self.assertEqual(loopback_host(text + port), expected, text + port)


def _is_loopback_ipv4(name: str) -> bool:
    try:
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        return False
