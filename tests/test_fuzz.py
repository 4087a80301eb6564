"""
Property tests (hypothesis) over the HTTP/1.1 request parser boundary: an
L{HTTPChannel} on a L{StringTransport} and a L{MemoryReactorClock}, fed
random heads, random splits of valid (single and pipelined) requests and
random early disconnects.

The application is L{EchoAdapter}: it reads the whole body, then answers
C{200} with C{"METHOD PATH?QUERY BODYLENGTH"}.  It answers either at once,
from inside the channel's callbacks, or on the next reactor turn (so
requests queue behind each other), and on a disconnect it either stops at
once or ignores it until the grace period cancels it.

The default run is small and derandomized, so CI sees the same examples
every time.  C{GRACEHTTP_FUZZ_EXAMPLES=N} runs N random examples per
property instead, e.g.::

    GRACEHTTP_FUZZ_EXAMPLES=20000 PYTHONPATH=src python -m pytest tests/test_fuzz.py

Run so on 2026-11-21 (commit 614075e): 20,000 examples for each of the six
properties, 120,000 in all, no failure, 22 minutes on two shared CPUs.
Again on 2026-12-02 (commit 9d23aa0: Host, transfer codings, chunk
extensions, 501 for unknown methods), the same 120,000, no failure, 15
minutes.
"""

import os
from collections import namedtuple
from itertools import pairwise
from unittest import TestCase

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from zope.interface import implementer

from gracehttp._core.exchange import CANCELLED, CLIENT_DISCONNECTED, COMPLETED, REJECTED
from gracehttp._core.interfaces import IAppAdapter
from gracehttp._errors import ClientDisconnected
from gracehttp._protocols.http11 import HTTPFactory
from gracehttp._settings import HTTPSettings

_EXAMPLES = int(os.environ.get("GRACEHTTP_FUZZ_EXAMPLES", "0"))

GRACE = 3.0


def fuzz(examples):
    """
    Hypothesis settings for one property: C{examples} derandomized examples,
    or C{GRACEHTTP_FUZZ_EXAMPLES} random ones when that is set.
    """
    return settings(
        max_examples=_EXAMPLES or examples,
        derandomize=not _EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- the application ---------------------------------------------------------


class EchoApp:
    """
    One request's application: read the whole body, then answer with the
    method, path, query and body length.

    @ivar stubborn: ignore the disconnect flag (keep waiting for the body)
        until a write fails or the grace period cancels the application.
    """

    def __init__(self, adapter, exchange):
        self.adapter = adapter
        self.exchange = exchange
        self.writtenBefore = 0
        self.received = 0
        self.done = False
        self.answering = False
        self.scheduled = False

    def start(self):
        exchange = self.exchange
        exchange.wake = self.wake
        exchange.appStarted(self.finish)
        self.wake()

    def wake(self):
        if self.adapter.deferred:
            if not self.scheduled and not self.done:
                self.scheduled = True
                self.adapter.reactor.callLater(0, self.step)
        else:
            self.step()

    def step(self):
        self.scheduled = False
        if self.done or self.answering:
            return
        exchange = self.exchange
        if exchange.disconnected and not self.adapter.stubborn:
            self.finish()
            return
        self.received += len(exchange.readBody())
        if not exchange.bodyComplete:
            return
        body = echo(exchange.method, exchange.rawPath, exchange.queryString, self.received)
        self.answering = True
        try:
            exchange.startResponse(200, [(b"Content-Length", b"%d" % len(body))])
            self.adapter.responded.append(exchange)
            exchange.write(body)
            exchange.finish()
        except ClientDisconnected:
            pass
        self.finish()

    def finish(self):
        if not self.done:
            self.done = True
            self.exchange.appFinished()


def echo(method, path, query, length):
    """
    The body L{EchoApp} answers with.

    @type method: L{str}
    @rtype: L{bytes}
    """
    return b"%s %s?%s %d" % (method.encode("ascii"), path, query, length)


@implementer(IAppAdapter)
class EchoAdapter:
    """
    Runs an L{EchoApp} per exchange.

    @ivar deferred: answer on the next reactor turn rather than at once.
    @ivar stubborn: see L{EchoApp}.
    @ivar apps: every application started, in order.
    @ivar responded: the exchanges whose response started, in order.
    @ivar written: returns how many bytes the server has written so far;
        each app records it when it starts (C{writtenBefore}).
    """

    def __init__(self, reactor, deferred, stubborn):
        self.reactor = reactor
        self.deferred = deferred
        self.stubborn = stubborn
        self.apps = []
        self.responded = []
        self.written = lambda: 0

    def handle(self, exchange):
        app = EchoApp(self, exchange)
        app.writtenBefore = self.written()
        self.apps.append(app)
        app.start()

    def startup(self):
        pass

    def shutdown(self):
        pass


# -- one connection ------------------------------------------------------------


class Harness:
    """
    One connection to a fresh factory, fed the way a TCP transport would:
    nothing is delivered while the channel has paused reading or is
    closing.

    @ivar undelivered: bytes that could not be delivered (paused or closed).
    """

    def __init__(self, deferred=False, stubborn=False, **settings):
        """
        @param settings: L{HTTPSettings} fields (the grace period is
            L{GRACE}).
        """
        self.reactor = MemoryReactorClock()
        self.reactor.advance(1_000_000_000)
        self.adapter = EchoAdapter(self.reactor, deferred, stubborn)
        self.settings = HTTPSettings(disconnectGracePeriod=GRACE, **settings)
        self.factory = HTTPFactory(self.adapter, self.reactor, self.settings)
        self.channel = self.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)
        self.adapter.written = lambda: len(self.transport.value())
        self.undelivered = 0

    def readable(self):
        transport = self.transport
        return not transport.disconnecting and transport.producerState == "producing"

    def settle(self):
        """
        Run what is due now (deferred applications).
        """
        self.reactor.advance(0)

    def deliver(self, chunks):
        """
        Feed C{chunks} one C{dataReceived} each, letting due calls run in
        between.
        """
        for index, chunk in enumerate(chunks):
            self.settle()
            if not self.readable():
                self.undelivered = sum(len(c) for c in chunks[index:])
                break
            self.channel.dataReceived(chunk)
        self.settle()

    def lose(self):
        """
        The connection is lost; let the grace period pass.
        """
        self.channel.connectionLost(Failure(ConnectionDone("fuzz")))
        self.settle()
        self.reactor.advance(GRACE)
        self.settle()

    def output(self):
        """
        @return: everything the server wrote.
        """
        return self.transport.value()


Response = namedtuple("Response", "status headers body")


def parseResponses(data, responded):
    """
    Split what the server wrote into responses, dropping 1xx interim ones.
    Every response must be complete and framed by one Content-Length.

    @param responded: the exchanges the application answered, in order
        (the 2xx responses, to know which answer a HEAD).
    @rtype: L{list} of L{Response}
    @raise AssertionError: the output is not a sequence of whole responses.
    """
    responses = []
    answered = iter(responded)
    while data:
        head, separator, data = data.partition(b"\r\n\r\n")
        assert separator, f"incomplete response head {head!r}"
        statusLine, *lines = head.split(b"\r\n")
        version, status, _ = statusLine.split(b" ", 2)
        assert version == b"HTTP/1.1", statusLine
        status = int(status)
        headers = {}
        for line in lines:
            name, value = line.split(b": ", 1)
            assert name not in headers, f"duplicate {name!r}"
            headers[name] = value
        if status < 200:
            assert not lines, head
            continue
        length = int(headers[b"content-length"])
        if status < 300 and next(answered).method == "HEAD":
            length = 0
        assert len(data) >= length, f"short body {data!r}"
        responses.append(Response(status, headers, data[:length]))
        data = data[length:]
    return responses


# -- requests --------------------------------------------------------------------

_TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PCHAR = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@"
_VISIBLE = bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))
_SPECIAL = {
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"proxy-connection",
    b"upgrade",
    b"expect",
    b"keep-alive",
    b"host",
}

REJECTIONS = {400, 408, 413, 431, 501, 503, 505}
"""
The statuses the channel itself answers a request with before closing.
"""

SENTINEL = b"/__sentinel__"
SENTINEL_REQUEST = b"GET " + SENTINEL + b" HTTP/1.1\r\nHost: sentinel\r\n\r\n"


class Request:
    """
    A valid HTTP/1.1 (or 1.0) request, and what L{EchoApp} answers to it.
    """

    def __init__(
        self,
        method,
        target,
        path,
        query,
        version,
        headers,
        body,
        framing,
        chunks,
        extensions,
        trailers,
        expect,
        close,
    ):
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.framing = framing
        self.chunks = chunks
        self.extensions = extensions
        self.trailers = trailers
        self.expect = expect
        self.close = close

    def __repr__(self):
        return f"Request({self.serialize()[:500]!r}, close={self.close})"

    def serialize(self, extraHeaders=(), chunkSize=None, chunkEnd=b"\r\n"):
        """
        The request's bytes; the arguments let a test spoil them.
        """
        lines = [b"%s %s %s" % (self.method.encode("ascii"), self.target, self.version)]
        lines += [name + b": " + value for name, value in self.headers]
        if self.framing == "length":
            lines.append(b"Content-Length: %d" % len(self.body))
        elif self.framing == "chunked":
            lines.append(b"Transfer-Encoding: chunked")
        if self.expect:
            lines.append(b"Expect: 100-continue")
        if self.close and self.version == b"HTTP/1.1":
            lines.append(b"Connection: close")
        elif not self.close and self.version == b"HTTP/1.0":
            lines.append(b"Connection: keep-alive")
        lines += extraHeaders
        head = b"\r\n".join(lines) + b"\r\n\r\n"
        if self.framing == "length":
            return head + self.body
        if self.framing != "chunked":
            return head
        out = [head]
        for index, (chunk, extension) in enumerate(zip(self.chunks, self.extensions, strict=True)):
            size = b"%x" % len(chunk)
            if chunkSize is not None and index == 0:
                size = chunkSize
            out.append(size + extension + b"\r\n" + chunk + chunkEnd)
        out.append(b"0\r\n")
        out += [name + b": " + value + b"\r\n" for name, value in self.trailers]
        out.append(b"\r\n")
        return b"".join(out)

    def expected(self):
        """
        @return: C{(body, keep-alive header)} L{EchoApp}'s answer carries.
        """
        body = echo(self.method, self.path, self.query, len(self.body))
        if self.close:
            return body, b"close"
        return body, (b"keep-alive" if self.version == b"HTTP/1.0" else None)


headerNames = (
    st.text(_TOKEN, min_size=1, max_size=12)
    .map(str.encode)
    .filter(lambda name: name.lower() not in _SPECIAL)
)
headerValues = st.builds(
    lambda parts, separator: separator.join(parts),
    st.lists(
        st.binary(min_size=1, max_size=8).map(
            lambda b: bytes(_VISIBLE[x % len(_VISIBLE)] for x in b)
        ),
        max_size=3,
    ),
    st.sampled_from([b" ", b"\t", b"  "]),
)
headerFields = st.lists(st.tuples(headerNames, headerValues), max_size=5)
segments = st.text(_PCHAR, max_size=8).map(str.encode)
hosts = st.sampled_from([b"example.com", b"localhost:8000", b"127.0.0.1", b"[::1]:8080", b""])
bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([65_535, 65_537, 150_000]).map(lambda n: b"b" * n),
)


@st.composite
def requests(draw, close=False):
    """
    A valid request; C{close}: it asks to close the connection.
    """
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
    path = b"/" + b"/".join(draw(st.lists(segments, max_size=4)))
    query = draw(st.text(_PCHAR + "/?", max_size=12).map(str.encode))
    target = path + (b"?" + query if query else b"")
    if draw(st.integers(0, 4)) == 0:
        # Stripped: the application sees path and query only.
        target += b"#" + draw(st.text(_PCHAR + "/?", max_size=6).map(str.encode))
    if draw(st.booleans()):
        target = b"http://example.com" + target
    version = b"HTTP/1.0" if draw(st.integers(0, 4)) == 0 else b"HTTP/1.1"
    framing = draw(
        st.sampled_from(
            ["none", "length"] if version == b"HTTP/1.0" else ["none", "length", "chunked"]
        )
    )
    body = draw(bodies) if framing != "none" else b""
    chunks, extensions, trailers = [], [], []
    if framing == "chunked":
        cuts = (
            sorted(draw(st.sets(st.integers(1, max(1, len(body) - 1)), max_size=4)))
            if len(body) > 1
            else []
        )
        bounds = [0, *cuts, len(body)] if body else [0]
        chunks = [body[a:b] for a, b in pairwise(bounds)]
        extensions = [
            draw(
                st.sampled_from(
                    [b"", b";a=b", b";x", b';n="v w"', b" ;a", b"; a = b", b'\t;\tn\t=\t"v"']
                )
            )
            for _ in chunks
        ]
        trailers = draw(st.lists(st.tuples(headerNames, headerValues), max_size=2))
    expect = framing != "none" and version == b"HTTP/1.1" and draw(st.booleans())
    headers = draw(headerFields)
    if version == b"HTTP/1.1" or draw(st.booleans()):
        headers.insert(draw(st.integers(0, len(headers))), (b"Host", draw(hosts)))
    return Request(
        method,
        target,
        path,
        query,
        version,
        headers,
        body,
        framing,
        chunks,
        extensions,
        trailers,
        expect,
        close,
    )


@st.composite
def pipelines(draw, maxSize=4):
    """
    One to C{maxSize} valid requests for one connection; the last may close
    it.
    """
    count = draw(st.integers(1, maxSize))
    return [draw(requests()) for _ in range(count - 1)] + [
        draw(requests(close=draw(st.booleans())))
    ]


class Chunks(list):
    """
    The pieces of a split stream; shown as the stream and the cut points
    in failure reports.
    """

    def __repr__(self):
        cuts, at = [], 0
        for chunk in self[:-1]:
            at += len(chunk)
            cuts.append(at)
        return f"Chunks({b''.join(self)[:2000]!r}, cuts={cuts})"


@st.composite
def splits(draw, data):
    """
    C{data} cut at random points (sometimes into single bytes).
    """
    if len(data) < 300 and draw(st.integers(0, 9)) == 0:
        return Chunks(data[i : i + 1] for i in range(len(data)))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return Chunks(data[a:b] for a, b in pairwise(bounds) if a < b)


def modes():
    """
    L{Harness}'s C{(deferred, stubborn)}: how the application answers and
    how it takes a disconnect.
    """
    return st.tuples(st.booleans(), st.booleans())


# -- spoiled requests: each is rejected -----------------------------------------


def _spoil(request, data):
    """
    Make C{request} invalid in one of the ways RFC 9112 forbids (see
    C{docs/reference/requests.rst}).

    @return: the kind of spoiling, its bytes and the status it must get:
        400; 501 for a method or transfer coding we do not implement (RFC
        9110 section 15.6.2); or 505 for a version the parser accepts but we
        do not serve (RFC 9110 section 15.6.6; HTTP/0.9 has no status line
        to answer with, so 400).
    """
    kind = data.draw(st.sampled_from(sorted(_SPOILERS)))
    spoiled = _SPOILERS[kind](request, data)
    if kind == "unsupported-version" and b"HTTP/2.0" in spoiled:
        return kind, spoiled, 505
    return kind, spoiled, 501 if kind in _NOT_IMPLEMENTED else 400


def _withHead(request, edit):
    data = request.serialize()
    head, _, rest = data.partition(b"\r\n\r\n")
    return edit(head) + b"\r\n\r\n" + rest


def _bareLF(request, data):
    serialized = request.serialize()
    head = serialized.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    ends = [i for i in range(len(head)) if head.startswith(b"\r\n", i)]
    where = data.draw(st.sampled_from(ends))
    return serialized[:where] + serialized[where + 1 :]


def _chunked(request, data):
    request.framing = "chunked"
    request.version = b"HTTP/1.1"
    _withHost(request, data)
    if not request.chunks:
        request.body = request.body or b"abc"
        request.chunks = [request.body]
        request.extensions = [b""]
    return request


def _firstChunkBare(request, data):
    """
    Chunked, the first chunk without extension (a spoiled size or
    extension takes its place).
    """
    _chunked(request, data).extensions[0] = b""
    return request


def _withHost(request, data):
    if not any(name == b"Host" for name, _ in request.headers):
        request.headers.insert(0, (b"Host", data.draw(hosts)))
    return request


def _badHost(request, data):
    _withHost(request, data)
    value = data.draw(st.sampled_from([b"a b", b"u@x", b"x:y", b"[::1", b"%zz", b"a,b c"]))
    request.headers = [(name, value if name == b"Host" else v) for name, v in request.headers]
    return request


def _noHost(request):
    request.headers = [(name, value) for name, value in request.headers if name != b"Host"]
    request.version = b"HTTP/1.1"
    return request


_SPOILERS = {
    "cl+te": lambda r, d: _chunked(r, d).serialize(
        extraHeaders=[b"Content-Length: %d" % len(r.body)]
    ),
    "duplicate-cl": lambda r, d: _length(r).serialize(
        extraHeaders=[b"Content-Length: %d" % (len(r.body) + d.draw(st.integers(0, 1)))]
    ),
    "bad-cl": lambda r, d: _noFraming(r).serialize(
        extraHeaders=[
            b"Content-Length: "
            + d.draw(st.sampled_from([b"-1", b"+3", b"0x3", b"3, 3", b"3 3", b"abc", b""]))
        ]
    ),
    "bad-chunk-size": lambda r, d: _firstChunkBare(r, d).serialize(
        chunkSize=d.draw(st.sampled_from([b"zz", b"-3", b"fffffffffffffffffff", b"", b" 3", b"3 "]))
    ),
    "bad-chunk-ext": lambda r, d: _firstChunkBare(r, d).serialize(
        chunkSize=b"%x" % len(r.chunks[0])
        + d.draw(
            st.sampled_from(
                [b";a\x01", b";x=", b";=b", b";a=b ", b"; ", b";a b", b";a\rb", b';a="b']
            )
        )
    ),
    "chunk-without-crlf": lambda r, d: _chunked(r, d).serialize(
        chunkEnd=d.draw(st.sampled_from([b"X", b"\n", b"\rX"]))
    ),
    "obs-fold": lambda r, d: r.serialize(
        extraHeaders=[b"X-Fold: a", d.draw(st.sampled_from([b" b", b"\tb"]))]
    ),
    "space-before-colon": lambda r, d: r.serialize(
        extraHeaders=[b"X-Space" + d.draw(st.sampled_from([b" ", b"\t"])) + b": a"]
    ),
    "bare-lf": _bareLF,
    "bare-cr": lambda r, d: r.serialize(extraHeaders=[b"X-CR: a\rb"]),
    "control-in-value": lambda r, d: r.serialize(
        extraHeaders=[
            b"X-Ctl: a" + d.draw(st.sampled_from([b"\x00", b"\x01", b"\x7f", b"\x1b"])) + b"b"
        ]
    ),
    "bad-name": lambda r, d: r.serialize(
        extraHeaders=[
            d.draw(st.sampled_from([b"X(Y", b"X@Y", b"X Y", b"", b"X\x01Y", b"\xffX"])) + b": a"
        ]
    ),
    "bad-method": lambda r, d: _withHead(
        r,
        lambda head: (
            d.draw(st.sampled_from([b"G@T", b"GET\x00", b"", b"G(T", b"FOO\x01"]))
            + head[len(r.method) :]
        ),
    ),
    "unknown-method": lambda r, d: _withHead(
        r,
        lambda head: (
            d.draw(st.sampled_from([b"get", b"FOO", b"BREW", b"GETS", b"DESCRIBE", b"X-Y"]))
            + head[len(r.method) :]
        ),
    ),
    "two-hosts": lambda r, d: _withHost(r, d).serialize(
        extraHeaders=[b"Host: " + d.draw(st.sampled_from([b"evil.example.com", b"example.com"]))]
    ),
    "bad-host": lambda r, d: _badHost(r, d).serialize(),
    "no-host": lambda r, d: _noHost(r).serialize(),
    "user-in-target": lambda r, d: _withHead(
        _withHost(r, d), lambda head: head.replace(r.target, b"http://user@example.com" + r.path, 1)
    ),
    "bad-target": lambda r, d: _withHead(
        r,
        lambda head: head.replace(
            r.target, r.target + d.draw(st.sampled_from([b" x", b"\x01", b"\x7f", b"\xff"])), 1
        ),
    ),
    "bad-version": lambda r, d: _withHead(
        r,
        lambda head: head.replace(
            r.version,
            d.draw(
                st.sampled_from(
                    [b"HTTP/1.2", b"HTTP/3.0", b"http/1.1", b"HTTP/1.1x", b"HTTP/11", b"HTTP/"]
                )
            ),
            1,
        ),
    ),
    "unsupported-version": lambda r, d: _withHead(
        r,
        lambda head: head.replace(
            r.version, d.draw(st.sampled_from([b"HTTP/2.0", b"HTTP/0.9"])), 1
        ),
    ),
    "http10-chunked": lambda r, d: _http10(_chunked(r, d)).serialize(),
    "bad-transfer-coding": lambda r, d: (
        _noFraming(r).serialize(
            extraHeaders=d.draw(
                st.sampled_from(
                    [
                        [b"Transfer-Encoding: gzip"],
                        [b"Transfer-Encoding: blegh"],
                        [b"Transfer-Encoding: identity"],
                        [b"Transfer-Encoding: chunked, gzip"],
                        [b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
                        [b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip"],
                    ]
                )
            )
        )
        + b"0\r\n\r\n"
    ),
    "unsupported-transfer-coding": lambda r, d: (
        _noFraming(_http11(_withHost(r, d))).serialize(
            extraHeaders=d.draw(
                st.sampled_from(
                    [
                        [b"Transfer-Encoding: gzip, chunked"],
                        [b"Transfer-Encoding: identity, chunked"],
                        [b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"],
                    ]
                )
            )
        )
        + b"0\r\n\r\n"
    ),
    "space-before-first-header": lambda r, d: _withHead(
        r,
        lambda head: (
            head.replace(b"\r\n", b"\r\n X-Lead: a\r\n", 1)
            if b"\r\n" in head
            else head + b"\r\n X-Lead: a"
        ),
    ),
}


_NOT_IMPLEMENTED = {"unknown-method", "unsupported-transfer-coding"}

_IN_BODY = {"bad-chunk-size", "bad-chunk-ext", "chunk-without-crlf"}
"""
The spoilers that leave a valid head: its application starts and is told
the client is gone; every other is answered before any application starts.
"""


def _length(request):
    if request.framing != "length":
        request.framing = "length"
        request.chunks, request.extensions, request.trailers = [], [], []
    return request


def _noFraming(request):
    request.framing = "none"
    request.body = b""
    request.expect = False
    return request


def _http11(request):
    request.version = b"HTTP/1.1"
    return request


def _http10(request):
    request.version = b"HTTP/1.0"
    request.expect = False
    return request


# -- properties -------------------------------------------------------------------


class FuzzTestsMixin:
    def assertAllFinished(self, harness):
        """
        After the connection is lost and the grace period passed, every
        exchange is finished with an outcome and nothing is left scheduled.
        """
        harness.lose()
        self.assertEqual(harness.factory.serverState.requestsInFlight, 0)
        for app in harness.adapter.apps:
            self.assertTrue(app.done)
            self.assertIn(
                app.exchange.outcome, (COMPLETED, CLIENT_DISCONNECTED, CANCELLED, REJECTED)
            )
        self.assertEqual(harness.reactor.getDelayedCalls(), [])

    def assertWellBehaved(self, harness):
        """
        Whatever was sent: whole responses; at most one rejection (never a
        500), the last thing written, and then the connection closes; no
        application started after the rejection was written; the
        application's answers all reached the wire.
        """
        responses = parseResponses(harness.output(), harness.adapter.responded)
        statuses = [response.status for response in responses]
        errors = [s for s in statuses if s >= 400]
        self.assertLessEqual(set(errors), REJECTIONS, statuses)
        self.assertLessEqual(len(errors), 1, statuses)
        if errors:
            self.assertGreaterEqual(statuses[-1], 400)
            self.assertTrue(harness.transport.disconnecting)
            output = harness.output()
            rejection = output.rfind(b"HTTP/1.1 %d " % statuses[-1])
            for app in harness.adapter.apps:
                self.assertLessEqual(app.writtenBefore, rejection)
        self.assertEqual(len(statuses) - len(errors), len(harness.adapter.responded))
        return responses

    def assertAnswers(self, responses, pipeline):
        """
        C{responses} are L{EchoApp}'s answers to C{pipeline}, in order.
        """
        self.assertEqual(len(responses), len(pipeline))
        for response, request in zip(responses, pipeline, strict=True):
            body, connection = request.expected()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.headers[b"content-length"], b"%d" % len(body))
            self.assertEqual(response.body, b"" if request.method == "HEAD" else body)
            self.assertEqual(response.headers.get(b"connection"), connection)


class ArbitraryInputTests(FuzzTestsMixin, TestCase):
    @fuzz(200)
    @given(st.lists(st.binary(max_size=64), max_size=8), modes())
    def test_arbitraryBytes(self, chunks, mode):
        """
        Arbitrary bytes never raise out of the channel, get whole responses
        (at most one error, then a close) and leak no request.
        """
        harness = Harness(*mode)
        harness.deliver(chunks)
        self.assertWellBehaved(harness)
        self.assertAllFinished(harness)

    @fuzz(200)
    @given(st.data(), modes())
    def test_mutatedRequests(self, data, mode):
        """
        Valid requests with random bytes inserted, replaced or deleted never
        raise out of the channel, and nothing after a rejection reaches the
        application.
        """
        stream = b"".join(r.serialize() for r in data.draw(pipelines(2))) + SENTINEL_REQUEST
        stream = bytearray(stream)
        for _ in range(data.draw(st.integers(1, 4))):
            where = data.draw(st.integers(0, len(stream)))
            action = data.draw(st.sampled_from(["insert", "replace", "delete"]))
            noise = data.draw(
                st.binary(min_size=1, max_size=4)
                | st.sampled_from(
                    [
                        b"\r",
                        b"\n",
                        b"\r\n",
                        b":",
                        b" ",
                        b"\x00",
                        b"0",
                        b"\r\n\r\n",
                        b"Content-Length: 5\r\n",
                        b"Transfer-Encoding: chunked\r\n",
                    ]
                )
            )
            if action == "insert":
                stream[where:where] = noise
            elif action == "replace":
                stream[where : where + len(noise)] = noise
            else:
                del stream[where : where + len(noise)]
        harness = Harness(*mode)
        harness.deliver(data.draw(splits(bytes(stream))))
        self.assertWellBehaved(harness)
        self.assertAllFinished(harness)


class InvalidRequestTests(FuzzTestsMixin, TestCase):
    @fuzz(250)
    @given(st.data(), modes())
    def test_invalidRequest(self, data, mode):
        """
        A request spoiled in one of the forbidden ways, after valid
        pipelined ones and before another, gets exactly one 400 (501, 505)
        after the valid ones' answers and a close; no application sees it
        unless its head was valid, and nothing after it reaches one.
        """
        before = data.draw(st.lists(requests(), max_size=2))
        kind, spoiled, status = _spoil(data.draw(requests()), data)
        stream = b"".join(r.serialize() for r in before) + spoiled + SENTINEL_REQUEST
        harness = Harness(*mode)
        harness.deliver(data.draw(splits(stream)))
        responses = self.assertWellBehaved(harness)
        self.assertTrue(harness.transport.disconnecting)
        self.assertAnswers(responses[:-1], before)
        self.assertEqual(responses[-1].status, status, spoiled)
        self.assertNotIn(SENTINEL, [app.exchange.rawPath for app in harness.adapter.apps])
        # Nothing invalid reaches an application.
        self.assertLessEqual(len(harness.adapter.apps), len(before) + (kind in _IN_BODY))
        self.assertAllFinished(harness)

    @fuzz(200)
    @given(
        st.data(),
        modes(),
        st.integers(16, 600),
        st.integers(0, 6),
        st.sampled_from([0, 1, 64, 65_536, 100_000]),
    )
    def test_limits(self, data, mode, headerSize, headerCount, bodySize):
        """
        Under tight head-size, field-count and body limits, pipelined
        requests are answered correctly up to the first one over a limit,
        which gets 431 or 413 and a close; a body over the limit is never
        answered, and nothing after the rejected request reaches the
        application.
        """
        pipeline = data.draw(pipelines())
        pipeline[-1].close = False
        stream = b"".join(r.serialize() for r in pipeline) + SENTINEL_REQUEST
        harness = Harness(
            *mode,
            limitRequestHeaderSize=headerSize,
            limitRequestHeaders=headerCount,
            limitRequestBody=bodySize,
        )
        harness.deliver(data.draw(splits(stream)))
        responses = self.assertWellBehaved(harness)
        answered = [r for r in responses if r.status < 400][: len(pipeline)]
        self.assertAnswers(answered, pipeline[: len(answered)])
        for request in pipeline[: len(answered)]:
            self.assertLessEqual(len(request.body), bodySize)
        if len(answered) < len(pipeline):
            self.assertIn(responses[-1].status, {413, 431})
            self.assertTrue(harness.transport.disconnecting)
            self.assertNotIn(SENTINEL, [app.exchange.rawPath for app in harness.adapter.apps])
        self.assertAllFinished(harness)

    def test_queuedBeforeBadRequest(self):
        """
        Requests still queued when a bad one arrives behind them are all
        answered, then the 400 is sent (found by this file: only the first
        used to be answered).
        """
        harness = Harness(deferred=True)
        harness.deliver([QUEUED_THEN_BAD])
        statuses = [r.status for r in parseResponses(harness.output(), harness.adapter.responded)]
        self.assertEqual(statuses, [200, 200, 400])

    def test_queuedRequestFinishesOnClose(self):
        """
        Every request queued behind a bad one finishes once the connection
        is gone (found by this file: one used to stay in requestsInFlight).
        """
        harness = Harness(deferred=True)
        harness.deliver([QUEUED_THEN_BAD])
        harness.lose()
        self.assertEqual(harness.factory.serverState.requestsInFlight, 0)


QUEUED_THEN_BAD = (
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    b"GET /c HTTP/1.1\r\nX(Y: 1\r\n\r\n"
)


class ValidRequestTests(FuzzTestsMixin, TestCase):
    @fuzz(200)
    @given(st.data(), modes())
    def test_anySplit(self, data, mode):
        """
        Valid pipelined requests are answered correctly, and byte for byte
        the same (bar 100 Continue) whether they arrive in one write or
        split anywhere.
        """
        pipeline = data.draw(pipelines())
        stream = b"".join(r.serialize() for r in pipeline)
        whole = Harness(*mode)
        whole.deliver([stream])
        split = Harness(*mode)
        split.deliver(data.draw(splits(stream)))
        for harness in (whole, split):
            self.assertEqual(harness.undelivered, 0)
            self.assertEqual(harness.factory.serverState.requestsInFlight, 0)
            self.assertAnswers(self.assertWellBehaved(harness), pipeline)
            self.assertEqual(harness.transport.disconnecting, pipeline[-1].close)
        self.assertEqual(
            parseResponses(whole.output(), whole.adapter.responded),
            parseResponses(split.output(), split.adapter.responded),
        )
        self.assertEqual(_withoutContinue(whole.output()), _withoutContinue(split.output()))
        for harness in (whole, split):
            self.assertIdleTimeout(harness)
            self.assertAllFinished(harness)

    def assertIdleTimeout(self, harness):
        """
        Once every request is answered, what is left scheduled is the
        keep-alive timeout: it closes the connection and writes nothing.
        """
        if harness.transport.disconnecting:
            return
        written = harness.output()
        harness.reactor.advance(harness.settings.timeoutKeepAlive)
        self.assertTrue(harness.transport.disconnecting)
        self.assertEqual(harness.output(), written)

    @fuzz(200)
    @given(st.data(), modes())
    def test_earlyDisconnect(self, data, mode):
        """
        A client that goes away at any byte gets the answers to the requests
        it sent whole, and every request it started finishes (told, or
        cancelled after the grace period).
        """
        pipeline = data.draw(pipelines())
        pipeline[-1].close = False
        serialized = [r.serialize() for r in pipeline]
        stream = b"".join(serialized)
        cut = data.draw(st.integers(0, len(stream)))
        complete, end = 0, 0
        for request in serialized:
            end += len(request)
            if end > cut:
                break
            complete += 1
        harness = Harness(*mode)
        harness.deliver(data.draw(splits(stream[:cut])) if cut else [])
        responses = self.assertWellBehaved(harness)
        self.assertAnswers(responses, pipeline[:complete])
        started = harness.adapter.apps[complete:]
        self.assertLessEqual(len(started), 1)
        self.assertAllFinished(harness)
        expected = CANCELLED if harness.adapter.stubborn else CLIENT_DISCONNECTED
        for app in started:
            self.assertEqual(app.exchange.outcome, expected)


def _withoutContinue(data):
    return data.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b"")
