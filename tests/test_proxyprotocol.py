"""
The PROXY protocol header (L{gracehttp._protocols.proxyprotocol}): its
parser, and the header reader on a L{StringTransport} and a
L{Clock}.
"""

import tempfile
from unittest import TestCase

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from gracehttp._protocols.proxyprotocol import (
    InvalidProxyHeader,
    ProxyHeaderFactory,
    parseHeader,
)
from gracehttp._service import _url, parseEndpoint

from .server import makeCertificate
from .test_e2e_proxyprotocol import v1, v2


class ParseTests(TestCase):
    """
    L{parseHeader} reads versions 1 and 2, asks for more bytes while a
    header is incomplete, and refuses anything else.
    """

    def test_v1(self):
        """A version 1 TCP4 header gives both addresses and its length."""
        header = v1("TCP4", "1.2.3.4", "10.0.0.5", 56324, 443)
        self.assertEqual(
            parseHeader(header + b"GET"),
            (
                IPv4Address("TCP", "1.2.3.4", 56324),
                IPv4Address("TCP", "10.0.0.5", 443),
                len(header),
            ),
        )

    def test_v2IPv6Canonical(self):
        """A version 2 TCP6 header's addresses are written canonically."""
        header = v2("2001:db8:0:0:0:0:0:1", "::1", 1, 2)
        source, destination, length = parseHeader(header)
        seen = (source.host, destination.host, length)
        self.assertEqual(seen, ("2001:db8::1", "::1", len(header)))
        self.assertIsInstance(source, IPv6Address)

    def test_everyPrefixIncomplete(self):
        """Every proper prefix of a header asks for more bytes."""
        for header in (v1("TCP6", "::1", "::2", 1, 2), v2("1.2.3.4", "5.6.7.8", 1, 2)):
            for size in range(len(header)):
                with self.subTest(header=header, size=size):
                    self.assertIsNone(parseHeader(header[:size]))

    def test_noAddresses(self):
        """UNKNOWN, LOCAL, UNSPEC and UNIX headers say no address."""
        unspec = b"\r\n\r\n\x00\r\nQUIT\n\x21\x00\x00\x00"
        unix = b"\r\n\r\n\x00\r\nQUIT\n\x21\x31\x00\xd8" + bytes(216)
        local = v2("1.2.3.4", "5.6.7.8", 1, 2, command=0)
        for header in (b"PROXY UNKNOWN 1 2 3\r\n", local, unspec, unix):
            with self.subTest(header=header):
                self.assertEqual(parseHeader(header), (None, None, len(header)))

    def test_invalid(self):
        """Malformed headers, and a connection without one, are refused."""
        good = v2("1.2.3.4", "5.6.7.8", 1, 2)
        for data in (
            b"GET / HTTP/1.1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 ::1 ::2 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY " + b"x" * 120,
            good[:12] + b"\x31" + good[13:],
            good[:12] + b"\x22" + good[13:],
            good[:13] + b"\x41" + good[14:],
            good[:14] + b"\x00\x04" + good[16:20],
        ):
            with self.subTest(data=data), self.assertRaises(InvalidProxyHeader):
                parseHeader(data)


class _Recorder(Protocol):
    """
    Records its connection's addresses when made, and what it reads.
    """

    def __init__(self):
        self.received = b""
        self.lost = None

    def connectionMade(self):
        self.peer = self.transport.getPeer()
        self.host = self.transport.getHost()

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.lost = reason


class HeaderReaderTests(TestCase):
    """
    L{ProxyHeaderFactory}'s protocol makes the wrapped protocol only once
    the header is read, with its addresses, and closes on a bad or late
    header.
    """

    def setUp(self):
        self.clock = Clock()
        self.built = []

        def build():
            protocol = _Recorder()
            self.built.append(protocol)
            return protocol

        self.factory = ProxyHeaderFactory(Factory.forProtocol(build), self.clock, 10.0)
        self.transport = StringTransport(
            peerAddress=IPv4Address("TCP", "127.0.0.1", 9999),
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
        )
        self.reader = self.factory.buildProtocol(self.transport.getPeer())
        self.reader.makeConnection(self.transport)

    def test_byteByByte(self):
        """
        A header sent a byte at a time connects the protocol with its
        addresses, which then gets the bytes after the header.
        """
        for byte in v1("TCP4", "1.2.3.4", "10.0.0.5", 7, 80) + b"GET":
            self.reader.dataReceived(bytes([byte]))
        [protocol] = self.built
        self.assertEqual(protocol.peer, IPv4Address("TCP", "1.2.3.4", 7))
        self.assertEqual(protocol.host, IPv4Address("TCP", "10.0.0.5", 80))
        self.assertEqual(protocol.received, b"GET")
        self.reader.dataReceived(b" /")
        self.assertEqual(protocol.received, b"GET /")
        self.assertFalse(self.transport.disconnecting)

    def test_invalidClosesUnbuilt(self):
        """A bad header closes the connection; no protocol is made."""
        self.reader.dataReceived(b"GET / HTTP/1.1\r\n")
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.built, [])
        self.reader.dataReceived(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")
        self.assertEqual(self.built, [])

    def test_timeout(self):
        """A header not complete within the timeout closes the connection."""
        self.reader.dataReceived(b"PROXY TCP4 1.2")
        self.clock.advance(9.9)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.built, [])

    def test_timeoutCancelled(self):
        """A complete header cancels the timeout."""
        self.reader.dataReceived(v2("1.2.3.4", "5.6.7.8", 1, 2))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopClosesWaiting(self):
        """
        When the endpoint stops listening, a connection still waiting for
        its header is closed; one already past it is left to the stop.
        """
        served = StringTransport()
        done = self.factory.buildProtocol(served.getPeer())
        done.makeConnection(served)
        done.dataReceived(v2("1.2.3.4", "5.6.7.8", 1, 2))
        self.reader.dataReceived(b"PROXY TCP4")
        self.factory.doStart()
        self.factory.doStop()
        self.assertTrue(self.transport.disconnecting)
        self.assertFalse(served.disconnecting)
        self.assertEqual(len(self.built), 1)

    def test_lostBeforeHeader(self):
        """A connection lost before its header cancels the timeout, builds nothing."""
        self.reader.connectionLost(Failure(ConnectionError()))
        self.assertEqual((self.built, self.clock.getDelayedCalls()), ([], []))

    def test_lostAfterHeader(self):
        """A connection lost after its header is the protocol's loss."""
        self.reader.dataReceived(v2("1.2.3.4", "5.6.7.8", 1, 2))
        reason = Failure(ConnectionError())
        self.reader.connectionLost(reason)
        self.assertIs(self.built[0].lost, reason)


class EndpointTests(TestCase):
    """
    C{haproxy:} endpoints are ours, and over TLS say C{https}.
    """

    def test_tlsURL(self):
        """The start-up line names a haproxy:tcp endpoint with http, haproxy:ssl with https."""
        address = IPv4Address("TCP", "127.0.0.1", 8000)
        plain = parseEndpoint(Clock(), "haproxy:tcp:8000")
        with tempfile.TemporaryDirectory() as directory:
            keyPath, certPath = makeCertificate(directory)
            tls = parseEndpoint(
                Clock(), f"haproxy:ssl:8000:privateKey={keyPath}:certKey={certPath}"
            )
        self.assertEqual(_url(plain, address), "http://127.0.0.1:8000")
        self.assertEqual(_url(tls, address), "https://127.0.0.1:8000")

    def test_badInner(self):
        """A bad endpoint behind haproxy: is a one-line ValueError."""
        with self.assertRaises(ValueError) as caught:
            parseEndpoint(Clock(), "haproxy:nope:1")
        self.assertIn("haproxy:nope:1", str(caught.exception))
