"""
Tests for L{gracehttp._core.proxy} (proxy headers) and their use by the HTTP/1.1
channel.
"""

from unittest import TestCase

from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import MemoryReactorClock, StringTransport
from zope.interface import directlyProvides

from gracehttp._core.proxy import TrustedProxies, forwarded, parseForwarded
from gracehttp._protocols.http11 import HTTPFactory
from gracehttp._settings import HTTPSettings

from .test_http11 import ManualAdapter

PEER = ("10.0.0.1", 5555)


def apply(headers, allow=("10.0.0.0/8",), client=PEER, scheme="http"):
    return forwarded(headers, TrustedProxies(allow), client, scheme)


class TrustedProxiesTests(TestCase):
    def test_addressesAndNetworks(self):
        """
        Single addresses and CIDR networks, IPv4 and IPv6, are matched.
        """
        trusted = TrustedProxies(["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"])
        self.assertIn("127.0.0.1", trusted)
        self.assertIn("10.200.3.4", trusted)
        self.assertIn("2001:db8::7", trusted)
        self.assertNotIn("127.0.0.2", trusted)
        self.assertNotIn("192.168.0.1", trusted)
        self.assertNotIn("::1", trusted)

    def test_ipv4Mapped(self):
        """
        An IPv4-mapped IPv6 peer matches its IPv4 network.
        """
        self.assertIn("::ffff:10.1.2.3", TrustedProxies(["10.0.0.0/8"]))

    def test_everyone(self):
        """
        C{"*"} trusts every peer, including one without an address.
        """
        trusted = TrustedProxies(["*"])
        self.assertIn("203.0.113.9", trusted)
        self.assertIn(None, trusted)

    def test_notAnAddress(self):
        """
        A host that is not an IP address, or no host, is not trusted.
        """
        trusted = TrustedProxies(["127.0.0.1"])
        self.assertNotIn("localhost", trusted)
        self.assertNotIn(None, trusted)

    def test_invalidSpec(self):
        """
        An entry that is neither an address nor a network is a ValueError
        naming it.
        """
        with self.assertRaises(ValueError) as raised:
            TrustedProxies(["10.0.0.0/8", "proxy.example"])
        self.assertIn("proxy.example", str(raised.exception))


class XForwardedTests(TestCase):
    def test_singleClient(self):
        """
        X-Forwarded-For and X-Forwarded-Proto from a trusted proxy replace
        the client (port 0) and the scheme.
        """
        self.assertEqual(
            apply([(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]),
            (("203.0.113.7", 0), "https"),
        )

    def test_rightMostUntrusted(self):
        """
        The client is the right-most address that is not a trusted proxy:
        what the client itself wrote on the left is ignored.
        """
        headers = [(b"x-forwarded-for", b"1.1.1.1, 203.0.113.7, 10.0.0.2")]
        self.assertEqual(apply(headers)[0], ("203.0.113.7", 0))

    def test_allTrustedTakesLeftMost(self):
        """
        When every address is trusted the left-most one is the client.
        """
        headers = [(b"x-forwarded-for", b"10.0.0.5, 10.0.0.2")]
        self.assertEqual(apply(headers)[0], ("10.0.0.5", 0))
        headers = [(b"x-forwarded-for", b"1.1.1.1, 203.0.113.7")]
        self.assertEqual(apply(headers, allow=("*",))[0], ("1.1.1.1", 0))

    def test_severalFields(self):
        """
        Several X-Forwarded-For fields make one list, in order.
        """
        headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-for", b"10.0.0.2")]
        self.assertEqual(apply(headers)[0], ("203.0.113.7", 0))

    def test_ipv6AndPorts(self):
        """
        Bare and bracketed IPv6 addresses and IPv4 address:port entries are
        understood.
        """
        self.assertEqual(apply([(b"x-forwarded-for", b"2001:db8::1")])[0], ("2001:db8::1", 0))
        self.assertEqual(
            apply([(b"x-forwarded-for", b"[2001:db8::1]:8080")])[0], ("2001:db8::1", 8080)
        )
        self.assertEqual(
            apply([(b"x-forwarded-for", b"203.0.113.7:4321")])[0], ("203.0.113.7", 4321)
        )

    def test_garbageIgnored(self):
        """
        An X-Forwarded-For that does not parse leaves the peer as client.
        """
        self.assertEqual(apply([(b"x-forwarded-for", b"evil, <script>")])[0], PEER)

    def test_protoRightMostAndValidated(self):
        """
        The right-most X-Forwarded-Proto counts; only http and https are
        accepted.
        """
        self.assertEqual(apply([(b"x-forwarded-proto", b"http, HTTPS")])[1], "https")
        self.assertEqual(apply([(b"x-forwarded-proto", b"gopher")])[1], "http")


class ForwardedTests(TestCase):
    def test_parse(self):
        """
        RFC 7239 section 4 syntax: elements, pairs, quoted strings, case of
        names, whitespace.
        """
        self.assertEqual(
            parseForwarded(
                'for=192.0.2.60;Proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
            ),
            [
                {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"},
                {"for": "[2001:db8:cafe::17]:4711"},
            ],
        )

    def test_parseInvalid(self):
        """
        Values that are not RFC 7239 syntax do not parse.
        """
        for value in ["for", "for=a b", 'for="unterminated', "for=[::1]", "=x"]:
            with self.subTest(value):
                self.assertIsNone(parseForwarded(value))

    def test_forAndProto(self):
        """
        for= and proto= of the chosen element replace client and scheme.
        """
        self.assertEqual(
            apply([(b"forwarded", b"for=203.0.113.7;proto=https")]),
            (("203.0.113.7", 0), "https"),
        )

    def test_quotedIPv6WithPort(self):
        """
        A quoted, bracketed IPv6 node with a port is understood.
        """
        self.assertEqual(
            apply([(b"forwarded", b'for="[2001:db8:cafe::17]:4711"')])[0],
            ("2001:db8:cafe::17", 4711),
        )

    def test_obfuscated(self):
        """
        An obfuscated identifier (RFC 7239 section 6.3) is passed on as the
        client host; an obfuscated port becomes 0.
        """
        self.assertEqual(apply([(b"forwarded", b'for="_hidden:_port"')])[0], ("_hidden", 0))

    def test_unknown(self):
        """
        C{for=unknown} makes the client unknown (L{None}).
        """
        self.assertIsNone(apply([(b"forwarded", b"for=unknown")])[0])

    def test_rightMostUntrusted(self):
        """
        The right-most element whose for= is not a trusted proxy is chosen,
        with its own proto.
        """
        headers = [
            (
                b"forwarded",
                b"for=1.1.1.1;proto=http, for=203.0.113.7;proto=https, for=10.0.0.2;proto=http",
            )
        ]
        self.assertEqual(apply(headers), (("203.0.113.7", 0), "https"))

    def test_winsOverXForwarded(self):
        """
        When Forwarded is present the X-Forwarded-* headers are ignored.
        """
        headers = [
            (b"x-forwarded-for", b"198.51.100.1"),
            (b"x-forwarded-proto", b"https"),
            (b"forwarded", b"for=203.0.113.7"),
        ]
        self.assertEqual(apply(headers), (("203.0.113.7", 0), "http"))

    def test_invalidIgnored(self):
        """
        A Forwarded field that does not parse, or an unbracketed IPv6 node,
        leaves client and scheme alone.
        """
        for value in [b"for=", b'for="2001:db8::1"', b"for=300.1.1.1;proto=https"]:
            with self.subTest(value):
                self.assertEqual(apply([(b"forwarded", value)]), (PEER, "http"))


class ChannelProxyTests(TestCase):
    def serve(self, settings, peer, headers=b"", ssl=False):
        """
        Send one request with C{headers} from C{peer}; return its exchange.
        """
        factory = HTTPFactory(adapter := ManualAdapter(), MemoryReactorClock(), settings)
        channel = factory.buildProtocol(None)
        transport = StringTransport(peerAddress=peer)
        if ssl:
            directlyProvides(transport, ISSLTransport)
        channel.makeConnection(transport)
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        [exchange] = adapter.exchanges
        return exchange

    HEADERS = b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"

    def test_trustedPeer(self):
        """
        With proxyHeaders on, a request from an allowed peer gets the
        forwarded client and scheme.
        """
        exchange = self.serve(
            HTTPSettings(proxyHeaders=True, forwardedAllowIPs=("127.0.0.0/8",)),
            IPv4Address("TCP", "127.0.0.1", 4000),
            self.HEADERS,
        )
        self.assertEqual((exchange.client, exchange.scheme), (("203.0.113.7", 0), "https"))

    def test_untrustedPeer(self):
        """
        From a peer that is not allowed the headers are ignored.
        """
        exchange = self.serve(
            HTTPSettings(proxyHeaders=True),
            IPv4Address("TCP", "192.0.2.1", 4000),
            self.HEADERS,
        )
        self.assertEqual((exchange.client, exchange.scheme), (("192.0.2.1", 4000), "http"))

    def test_proxyHeadersOff(self):
        """
        With proxyHeaders off (the default) the headers are ignored even from
        an allowed peer.
        """
        exchange = self.serve(HTTPSettings(), IPv4Address("TCP", "127.0.0.1", 4000), self.HEADERS)
        self.assertEqual(exchange.client, ("127.0.0.1", 4000))
        self.assertEqual(exchange.scheme, "http")

    def test_unixPeerNeedsStar(self):
        """
        A UNIX socket peer has no address: it is trusted only with C{"*"}.
        """
        unix = UNIXAddress("/run/app.sock")
        exchange = self.serve(HTTPSettings(proxyHeaders=True), unix, self.HEADERS)
        self.assertIsNone(exchange.client)
        exchange = self.serve(
            HTTPSettings(proxyHeaders=True, forwardedAllowIPs=("*",)), unix, self.HEADERS
        )
        self.assertEqual(exchange.client, ("203.0.113.7", 0))

    def test_tlsScheme(self):
        """
        A request over TLS has the scheme https.
        """
        exchange = self.serve(HTTPSettings(), IPv4Address("TCP", "192.0.2.1", 4000), ssl=True)
        self.assertEqual(exchange.scheme, "https")

    def test_invalidAllowList(self):
        """
        A bad forwardedAllowIPs entry is refused when the factory is built.
        """
        with self.assertRaises(ValueError):
            HTTPFactory(
                ManualAdapter(),
                MemoryReactorClock(),
                HTTPSettings(proxyHeaders=True, forwardedAllowIPs=("nope",)),
            )
