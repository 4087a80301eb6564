"""
Tests for the request syntax RFC 9112 and RFC 9110 ask of a server beyond
what llhttp checks (L{gracehttp._protocols.syntax}, used by L{gracehttp._protocols.http11}):
transfer codings, C{Host}, fragments, chunk extensions and methods the
parser does not know.  Driven with L{StringTransport}, as in
L{tests.test_http11}.
"""

from itertools import pairwise
from unittest import TestCase

from gracehttp._core.accesslog import AccessLog
from gracehttp._protocols.http11 import HTTPFactory
from gracehttp._protocols.syntax import (
    CHUNK_LINE_LIMIT,
    methodStatus,
    transferCodingStatus,
    validHost,
)
from gracehttp._settings import HTTPSettings

from .test_http11 import ChannelTestsMixin, respond

NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"


class RejectionTestsMixin(ChannelTestsMixin):
    def assertRejected(self, data, status, phrase):
        """
        C{data} on a new connection, followed by a valid request, is
        answered C{status} and the connection closes; no request reaches
        the adapter.
        """
        self.adapter.exchanges = []
        channel, transport = self.connect()
        channel.dataReceived(data + NEXT)
        self.assertTrue(
            transport.value().startswith(b"HTTP/1.1 %d %s\r\n" % (status, phrase)),
            (data, transport.value()[:40]),
        )
        self.assertTrue(transport.disconnecting, data)
        self.assertEqual(self.adapter.exchanges, [], data)

    def assertServed(self, data):
        """
        C{data} is one request handed to the adapter.

        @return: its exchange.
        """
        self.adapter.exchanges = []
        channel, transport = self.connect()
        channel.dataReceived(data)
        self.assertEqual(len(self.adapter.exchanges), 1, (data, transport.value()[:40]))
        return self.adapter.exchanges[0]


class TransferCodingTests(RejectionTestsMixin, TestCase):
    def test_finalCodingNotChunked(self):
        """
        A request whose final transfer coding is not chunked is answered 400
        before any application is started (RFC 9112 section 6.3).
        """
        for value in [b"gzip", b"blegh", b"identity", b"chunked;a=b", b"gzip, identity"]:
            with self.subTest(value):
                self.assertRejected(
                    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n" % value,
                    400,
                    b"Bad Request",
                )

    def test_codingBeforeChunked(self):
        """
        A coding before chunked (which we do not decode), in one field or
        several, is answered 501 before any application is started (RFC 9112
        section 6.1); a coding that is not a token is a 400.
        """
        for fields, status in [
            ([b"gzip, chunked"], 501),
            ([b"blegh, chunked"], 501),
            ([b"identity, chunked"], 501),
            ([b"gzip;q=1, chunked"], 501),
            ([b"gzip", b"chunked"], 501),
            ([b"g@zip, chunked"], 400),
        ]:
            with self.subTest(fields):
                head = b"".join(b"Transfer-Encoding: %s\r\n" % value for value in fields)
                self.assertRejected(
                    b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n5\r\nhello\r\n0\r\n\r\n",
                    status,
                    b"Bad Request" if status == 400 else b"Not Implemented",
                )

    def test_transferCodingStatus(self):
        """
        Only chunked, once and last, is accepted; empty list elements and
        case do not matter (RFC 9110 section 5.6.1).
        """
        self.assertEqual(
            [
                transferCodingStatus(value)
                for value in [b"chunked", b", Chunked ,", b"chunked, chunked", b"x, chunked", b""]
            ],
            [None, None, 400, 501, 400],
        )


class HostTests(RejectionTestsMixin, TestCase):
    def test_twoHostFields(self):
        """
        Two Host fields are answered 400 (RFC 9112 section 3.2), however
        their values compare.
        """
        for second in [b"evil.example.com", b"x"]:
            with self.subTest(second):
                self.assertRejected(
                    b"GET / HTTP/1.1\r\nHost: x\r\nHost: %s\r\n\r\n" % second, 400, b"Bad Request"
                )

    def test_missingHost(self):
        """
        An HTTP/1.1 request without Host is answered 400; an HTTP/1.0 one is
        served.
        """
        self.assertRejected(b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, b"Bad Request")
        exchange = self.assertServed(b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual(exchange.headers, [])

    def test_hostValues(self):
        """
        A Host that is C{uri-host [":" port]} (RFC 3986 reg-name, IPv4,
        IPv6 or IPvFuture literal, or empty) is served; anything else is
        answered 400.
        """
        for value in [
            b"example.com",
            b"example.com:8080",
            b"127.0.0.1:80",
            b"[::1]",
            b"[2001:db8::1]:443",
            b"[v1.fe80::a+en1]",
            b"ex%41mple",
            b"a-b_c~d!$&'()*+,;=",
            b"",
            b"x:",
            b"example.com \t",
        ]:
            with self.subTest(value):
                exchange = self.assertServed(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % value)
                self.assertEqual(exchange.headers, [(b"host", value)])
        invalid = [
            b"a b",
            b"a/b",
            b"u@a",
            b"a:b",
            b"a:1:2",
            b"[::1",
            b"[zz::1]",
            b"%zz",
            b"a\tb",
            b"\xff",
        ]
        for value in invalid:
            with self.subTest(value):
                self.assertRejected(
                    b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % value, 400, b"Bad Request"
                )

    def test_hostCheckedOnEveryRequest(self):
        """
        A bad Host on a later request of a connection is answered 400 after
        the good ones.
        """
        self.channel.dataReceived(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /3 HTTP/1.1\r\nHost: a b\r\n\r\n"
        )
        respond(self.adapter.exchanges[0])
        respond(self.adapter.exchanges[1])
        self.assertEqual([e.rawPath for e in self.adapter.exchanges], [b"/1", b"/2"])
        self.assertIn(b"HTTP/1.1 400 ", self.take())
        self.assertTrue(self.transport.disconnecting)

    def test_absoluteFormAuthorityWins(self):
        """
        The authority of an absolute-form target replaces the Host field
        (RFC 9112 section 3.2.2), or is added to an HTTP/1.0 request without
        one.
        """
        exchange = self.assertServed(
            b"GET http://example.org:8080/p?q=1 HTTP/1.1\r\nHost: other\r\nX-A: 1\r\n\r\n"
        )
        self.assertEqual(exchange.headers, [(b"host", b"example.org:8080"), (b"x-a", b"1")])
        self.assertEqual((exchange.rawPath, exchange.queryString), (b"/p", b"q=1"))
        exchange = self.assertServed(b"GET http://[::1]/ HTTP/1.0\r\n\r\n")
        self.assertEqual(exchange.headers, [(b"host", b"[::1]")])

    def test_absoluteFormBadAuthority(self):
        """
        An absolute-form target with user information, an empty host or an
        invalid one is answered 400 (RFC 9110 section 4.2.4); it still needs
        a valid Host field.
        """
        for target in [b"http://user@example.org/", b"http:///p", b"http://:80/", b"http://a%zz/"]:
            with self.subTest(target):
                self.assertRejected(
                    b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target, 400, b"Bad Request"
                )
        self.assertRejected(b"GET http://example.org/ HTTP/1.1\r\n\r\n", 400, b"Bad Request")

    def test_validHost(self):
        """
        An IPv6 literal must be a valid IPv6 address.
        """
        self.assertEqual(
            [validHost(v) for v in [b"[::1]:1", b"[1:2:3:4:5:6:7:8:9]", b"[::1%25eth0]"]],
            [True, False, False],
        )


class FragmentTests(RejectionTestsMixin, TestCase):
    def test_fragmentStripped(self):
        """
        A fragment in the request target never reaches the application: the
        path and query end before C{#} (RFC 9112 section 3.2).
        """
        for target, expected in [
            (b"/a#frag", (b"/a", b"")),
            (b"/a?b=1#f", (b"/a", b"b=1")),
            (b"/a#f?g=1", (b"/a", b"")),
            (b"/#", (b"/", b"")),
            (b"http://x/p?q#f", (b"/p", b"q")),
        ]:
            with self.subTest(target):
                exchange = self.assertServed(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target)
                self.assertEqual((exchange.rawPath, exchange.queryString), expected)

    def test_accessLogWithoutFragment(self):
        """
        The access log shows the target without its fragment.
        """
        events = []
        self.factory.serverState.requestLog = AccessLog(self.reactor, observer=events.append)
        self.channel.dataReceived(b"GET /a?b=1#frag HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[0])
        [event] = events
        self.assertEqual((event["request"], event["path"]), ("GET /a?b=1 HTTP/1.1", "/a?b=1"))


CHUNKED = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


class ChunkExtensionTests(RejectionTestsMixin, TestCase):
    def assertBody(self, chunks, pieces=None):
        """
        A chunked request whose body is C{chunks} (a chunked body, last
        chunk and trailers included) reaches the adapter with the body
        C{hello world}, and the request pipelined behind it follows.

        @param pieces: the reads the stream is cut into, by offset.
        """
        stream = CHUNKED + chunks + NEXT
        bounds = [0, *(pieces or []), len(stream)]
        for start, end in pairwise(bounds):
            self.channel.dataReceived(stream[start:end])
        [exchange] = self.adapter.exchanges
        self.assertTrue(exchange.bodyComplete, self.transport.value())
        self.assertEqual(exchange.readBody(), b"hello world")
        respond(exchange)
        self.assertEqual([e.rawPath for e in self.adapter.exchanges], [b"/up", b"/next"])

    def test_whitespaceAroundSemicolonAndEquals(self):
        """
        Whitespace (BWS) before C{;} and around C{=} in chunk extensions is
        valid (RFC 9112 section 7.1.1).
        """
        for extension in [b" ;a", b"; a = b", b'\t;\ta\t=\t"q s"', b" ; a=b ; c", b';a=b;c="\\""']:
            with self.subTest(extension):
                self.setUp()
                self.assertBody(b"5%s\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" % extension)

    def test_invalidExtensions(self):
        """
        An extension with an empty value or name, whitespace after it, a
        bare CR, or an unterminated quoted string, is answered 400; the
        request behind it never reaches the adapter.
        """
        for extension in [b";x=", b";=b", b";a=b ", b"; ", b";a b", b';a="x', b";a\rb", b";a=\x00"]:
            with self.subTest(extension):
                self.adapter.exchanges = []
                channel, transport = self.connect()
                channel.dataReceived(
                    CHUNKED + b"20%s\r\n" % extension + b"x" * 32 + b"\r\n0\r\n\r\n" + NEXT
                )
                self.assertTrue(transport.value().startswith(b"HTTP/1.1 400 "), extension)
                self.assertTrue(transport.disconnecting)
                [exchange] = self.adapter.exchanges
                self.assertTrue(exchange.disconnected)

    def test_lineLimit(self):
        """
        A chunk-size line of CHUNK_LINE_LIMIT bytes is read; a longer one is
        answered 400, even before it ends.
        """
        extension = b";a=" + b"b" * (CHUNK_LINE_LIMIT - 6)
        self.assertBody(b"b%s\r\nhello world\r\n0\r\n\r\n" % extension)
        channel, transport = self.connect()
        extension += b"bbb"
        channel.dataReceived(CHUNKED + b"b" + extension[:100])
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(extension[100:])
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 400 "))
        self.assertTrue(self.adapter.exchanges[-1].disconnected)

    def test_anySplit(self):
        """
        Valid extensions are read the same whatever the reads: a head over
        several reads, a chunk-size line over several, a trailer section
        over several.
        """
        chunks = b"5 ; a = b\r\nhello\r\n6;c\r\n world\r\n0 ;d\r\nX-T: 1\r\n\r\n"
        length = len(CHUNKED) + len(chunks)
        head = len(CHUNKED)
        for cuts in [[10], [head - 2], [head + 2, head + 5], [length - 3], [length - 1]]:
            with self.subTest(cuts):
                self.setUp()
                self.assertBody(chunks, cuts)
        self.setUp()
        self.assertBody(chunks, list(range(1, length + 1)))

    def test_afterOtherRequests(self):
        """
        A chunked request pipelined in one read behind others (one with a
        body) is read from its own head.
        """
        self.channel.dataReceived(
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n"
            b"\r\n" + CHUNKED + b"5; z = 1\r\nhello\r\n0\r\n\r\n" + NEXT
        )
        respond(self.adapter.exchanges[0])
        second = self.adapter.exchanges[1]
        self.assertEqual(second.readBody(), b"5;a=b\r\nhello\r\n0\r\n")
        respond(second)
        upload = self.adapter.exchanges[2]
        self.assertEqual(upload.readBody(), b"hello")
        respond(upload)
        self.assertEqual(
            [e.rawPath for e in self.adapter.exchanges], [b"/1", b"/2", b"/up", b"/next"]
        )

    def test_headOverReadsAfterBody(self):
        """
        A chunked request whose head began in an earlier read, behind a
        Content-Length body, is read from its own head.
        """
        self.channel.dataReceived(b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        self.channel.dataReceived(b"hello" + CHUNKED[:20])
        self.channel.dataReceived(CHUNKED[20:] + b"b ; x=y\r\nhello world\r\n0\r\n\r\n" + NEXT)
        respond(self.adapter.exchanges[0])
        [first, upload] = self.adapter.exchanges
        self.assertEqual(first.readBody(), b"hello")
        self.assertEqual(upload.readBody(), b"hello world")

    def test_limitsKept(self):
        """
        A chunked body with extensions over limitRequestBody is answered
        413, and trailer fields over limitRequestHeaders 431.
        """
        for settings, status in [
            (HTTPSettings(limitRequestBody=8), 413),
            (HTTPSettings(limitRequestHeaders=2), 431),
        ]:
            with self.subTest(status):
                self.factory = HTTPFactory(self.adapter, self.reactor, settings)
                channel, transport = self.connect()
                channel.dataReceived(
                    CHUNKED + b"5 ;a\r\nhello\r\n6\r\n world\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
                )
                self.assertTrue(transport.value().startswith(b"HTTP/1.1 %d " % status))


class MethodTests(RejectionTestsMixin, TestCase):
    def test_methods(self):
        """
        A method that is a token the parser does not know is answered 501
        Not Implemented (RFC 9110 sections 9.1 and 15.6.2), and the
        connection closes; one that is not a token, or an unknown one in a
        bad request line, is answered 400, as soon as it is seen.  No
        application is started.
        """
        for method in [
            b"FOO",
            b"BREW",
            b"get",
            b"GETS",
            b"M-SEARCHX",
            b"DESCRIBE",
            b"X!#$%&'*+-.^_`|~1",
        ]:
            with self.subTest(method):
                self.assertRejected(
                    b"%s /pot HTTP/1.1\r\nHost: x\r\n\r\n" % method, 501, b"Not Implemented"
                )
        for line in [
            b"G(T / HTTP/1.1",
            b"GET\x01 / HTTP/1.1",
            b"G\x7fT / HTTP/1.1",
            b" / HTTP/1.1",
            b"FOO /a b HTTP/1.1",
            b"FOO / HTTP/1.1 x",
            b"FOO  / HTTP/1.1",
            b"FOO /",
            b"PLAY /a b HTTP/1.1",
        ]:
            with self.subTest(line):
                self.assertRejected(line + b"\r\nHost: x\r\n\r\n", 400, b"Bad Request")
        self.assertRejected(b"FOO / HTTP/1.1\nHost: x\n\n", 400, b"Bad Request")
        self.channel.dataReceived(b"G(T")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 400 "))

    def test_unknownMethodOverReads(self):
        """
        The answer waits for the request line when it arrives over several
        reads, wherever it is cut.
        """
        stream = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nFOO /pot HTTP/1.1\r\nHost: x\r\n\r\n"
        for cut in range(len(stream) - 18, len(stream) - 1):
            with self.subTest(cut):
                self.setUp()
                for start, end in [(0, cut - 3), (cut - 3, cut), (cut, len(stream))]:
                    self.channel.dataReceived(stream[start:end])
                respond(self.adapter.exchanges[0])
                self.assertIn(b"HTTP/1.1 501 Not Implemented\r\n", self.take())
                self.assertEqual(len(self.adapter.exchanges), 1)

    def test_unknownMethodTimesOut(self):
        """
        A request line that never ends after an unknown method gets 408 at
        the header timeout, and one longer than the head limit gets 431.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        respond(self.adapter.exchanges[0])
        self.take()
        self.channel.dataReceived(b"BREW /pot")
        self.reactor.advance(self.factory.settings.timeoutHeader)
        self.assertTrue(self.take().startswith(b"HTTP/1.1 408 "))
        channel, transport = self.connect()
        channel.dataReceived(b"BREW /" + b"p" * self.factory.settings.limitRequestHeaderSize)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 431 "))

    def test_unknownMethodAfterPipelined(self):
        """
        Requests before one with an unknown method are answered first, then
        501; the server goes on serving other connections.
        """
        self.channel.dataReceived(
            b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nBREW"
            b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\nBREW /pot HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT
        )
        respond(self.adapter.exchanges[0], b"fine")
        respond(self.adapter.exchanges[1], b"fine")
        value = self.take()
        self.assertEqual(value.count(b"fine"), 2)
        self.assertLess(value.rindex(b"fine"), value.index(b"501 Not Implemented"))
        self.assertEqual([e.rawPath for e in self.adapter.exchanges], [b"/1", b"/2"])
        channel, transport = self.connect()
        channel.dataReceived(NEXT)
        respond(self.adapter.exchanges[-1])
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 "))

    def test_methodStatus(self):
        """
        The decision waits only while the method may still be a token.
        """
        self.assertEqual(
            [methodStatus(h) for h in [b"FO", b"FOO", b"FOO /", b"F(", b"FOO / HTTP/1.1\r\n"]],
            [None, None, None, 400, 501],
        )


FAKE = b"\r\n\r\nPOST /fake HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nBR"
MIXED = (
    # A body that looks like requests, a request without body, a chunked
    # request with extensions, one with a method we do not implement.
    b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(FAKE)
    + FAKE
    + b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n\r\n"
    b"POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5 ; a = b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
    b"BREW /4 HTTP/1.1\r\nHost: x\r\n\r\n"
)


class ReadBoundaryTests(ChannelTestsMixin, TestCase):
    """
    Where a chunked head ends and where a refused method begins are found
    in a read from the state the read found (L{gracehttp._protocols.http11}); these
    cut one stream at every place.
    """

    def serve(self, pieces):
        """
        Feed C{pieces}, answering each request (its body read) as it comes.

        @return: C{(path, body)} of each request, and what the server wrote.
        """
        self.setUp()
        for piece in pieces:
            self.channel.dataReceived(piece)
        seen = []
        while len(seen) < len(self.adapter.exchanges):
            exchange = self.adapter.exchanges[len(seen)]
            seen.append((exchange.rawPath, exchange.readBody()))
            respond(exchange)
        return seen, self.transport.value()

    def assertMixed(self, pieces):
        seen, written = self.serve(pieces)
        self.assertEqual(
            seen,
            [(b"/1", FAKE), (b"/2", b""), (b"/3", b"hello")],
            pieces,
        )
        self.assertEqual(written.count(b"HTTP/1.1 200 OK"), 3)
        self.assertTrue(written.endswith(b"Not Implemented"), (pieces, written[-200:]))
        self.assertTrue(self.transport.disconnecting)

    def test_everyCut(self):
        """
        The stream cut once anywhere, or in three pieces at many places, is
        read the same.
        """
        for cut in range(1, len(MIXED)):
            self.assertMixed([MIXED[:cut], MIXED[cut:]])
        for first in range(1, len(MIXED), 5):
            for second in range(first + 1, len(MIXED), 7):
                self.assertMixed([MIXED[:first], MIXED[first:second], MIXED[second:]])

    def test_byteByByte(self):
        """
        The stream one byte per read is read the same.
        """
        self.assertMixed([MIXED[i : i + 1] for i in range(len(MIXED))])
