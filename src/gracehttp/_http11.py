"""
HTTP/1.1 (RFC 9112) as a Twisted protocol, parsed with C{httptools}.

Theory of operation
===================

One L{HTTPChannel} per connection.  C{httptools} (llhttp) parses; it is
strict by default and rejects what could smuggle a request (Content-Length
with Transfer-Encoding, duplicate Content-Length, bad chunk sizes, obs-fold,
whitespace before a colon, bare LF).  We add the checks it leaves to us
(HTTP/1.0 with Transfer-Encoding).  Any parse error answers 400 and closes
the connection; bytes after the bad request never reach an application.

As soon as a request head is parsed an L{Exchange} is created and queued.
The exchange at the head of the queue is the active one: its application
runs and its response goes to the wire.  Pipelined requests wait in the
queue (their bodies buffer in their own exchange, bounded) and start, in
order, when the response before them is finished.  Past
L{MAX_PIPELINED} queued requests the channel stops reading.

Reading pauses for two reasons, counted together: an exchange's body buffer
is full (it resumes when the application reads), or too many requests are
queued.  While reading is paused a client's close is noticed at the next
read or write.

The response head is held until the first body bytes or the end of the
response so head and body leave in one write.  Framing (RFC 9112 section 6):
the application's Content-Length is honoured (never more bytes than it
says; fewer closes the connection); without one an HTTP/1.1 response is
chunked and an HTTP/1.0 one is delimited by closing the connection.
Responses to HEAD and 1xx/204/304 responses carry no body, with the
application's status and headers intact.

The channel is its transport's streaming producer: when the transport's
write buffer passes its high-water mark it calls L{HTTPChannel.pauseProducing}
and the active exchange's writers wait until L{HTTPChannel.resumeProducing}.

C{connectionLost} disconnects every queued exchange, once.  A close the
server makes after a complete response happens with an empty queue, so it
never looks like a client disconnect.
"""

from collections import deque
from email.utils import formatdate
from http import HTTPStatus

import httptools
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from zope.interface import implementer

from ._exchange import Exchange
from ._interfaces import IExchangeChannel
from ._settings import HTTPSettings

MAX_PIPELINED = 16
"""
Requests queued on one connection before the channel stops reading.
"""

_log = Logger()

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


def _statusLine(status):
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("ascii"))


_STATUS_LINES = {status: _statusLine(status) for status in range(100, 600)}


def _errorResponse(status, date):
    """
    A complete response the server itself sends (400, 500) before closing
    or in place of an application's.

    @type status: L{int}
    @param date: the C{date} header line, CRLF-terminated.
    @type date: L{bytes}
    @rtype: L{bytes}
    """
    body = HTTPStatus(status).phrase.encode("ascii")
    return b"".join(
        [
            _STATUS_LINES[status],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            date,
            b"\r\n",
            body,
        ]
    )


def _address(address):
    """
    @return: C{(host, port)} for a TCP address, L{None} for anything else
        (a UNIX socket).
    """
    if isinstance(address, (IPv4Address, IPv6Address)):
        return (address.host, address.port)
    return None


class _Response:
    """
    Framing state of the active exchange's response.

    @ivar head: the serialized head, until it is written.
    @ivar chunked: the body is sent with chunked transfer coding.
    @ivar bodyAllowed: the response may carry a body (not HEAD, 1xx, 204,
        304).
    @ivar remaining: body bytes still allowed by Content-Length, or L{None}.
    @ivar keepAlive: the connection may carry another request afterwards.
    """

    __slots__ = ("head", "chunked", "bodyAllowed", "remaining", "keepAlive")


@implementer(IExchangeChannel, IPushProducer)
class HTTPChannel(Protocol):
    """
    An HTTP/1.1 server connection.  See the module docstring.
    """

    def __init__(self):
        self._queue = deque()
        self._parsing = None
        self._response = None
        self._readPauses = 0
        self._writePaused = False
        self._failed = False
        self._errorPending = False
        self._url = b""
        self._headers = []

    # -- connection ----------------------------------------------------------

    def connectionMade(self):
        self._parser = httptools.HttpRequestParser(self)
        transport = self.transport
        self._client = _address(transport.getPeer())
        self._server = _address(transport.getHost())
        transport.registerProducer(self, True)

    def dataReceived(self, data):
        if self._failed:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No protocol upgrade is offered (yet): the request was answered
            # as plain HTTP, and nothing after it is read.
            self._stopAfterQueue()
        except httptools.HttpParserError as e:
            _log.info("Bad request from {client}: {error}", client=self._client, error=e)
            self._badRequest()

    def connectionLost(self, reason):
        queue = self._queue
        self._queue = deque()
        self._parsing = None
        for exchange in queue:
            exchange.disconnect()
        # Queued behind the active request, these never reached the adapter.
        for index in range(1, len(queue)):
            queue[index].appFinished()

    # -- httptools callbacks -------------------------------------------------

    def on_message_begin(self):
        self._url = b""
        self._headers = []

    def on_url(self, url):
        self._url += url

    def on_header(self, name, value):
        self._headers.append((name.lower(), value))

    def on_headers_complete(self):
        parser = self._parser
        factory = self.factory
        exchange = Exchange(self, factory.reactor, factory.settings.disconnectGracePeriod)
        version = parser.get_http_version()
        headers = self._headers
        for name, value in headers:
            if name == b"transfer-encoding" and version == "1.0":
                # RFC 9112 section 6.1: chunked framing is not HTTP/1.0's.
                raise httptools.HttpParserError("Transfer-Encoding in HTTP/1.0")
            if name == b"expect" and value.lower() == b"100-continue":
                exchange.expectContinue = True
        url = self._url
        if url[:1] != b"/":
            # absolute-form (RFC 9112 section 3.2.2) or '*'.
            if url != b"*":
                parsed = httptools.parse_url(url)
                url = parsed.path or b"/"
                if parsed.query:
                    url += b"?" + parsed.query
        path, _, query = url.partition(b"?")
        exchange.method = parser.get_method().decode("ascii")
        exchange.rawPath = path
        exchange.queryString = query
        exchange.httpVersion = version
        exchange.headers = headers
        exchange.client = self._client
        exchange.server = self._server
        exchange.keepAlive = parser.should_keep_alive()
        factory.exchangeStarted(exchange)
        self._parsing = exchange
        queue = self._queue
        queue.append(exchange)
        if len(queue) == 1:
            self._start(exchange)
        elif len(queue) == MAX_PIPELINED:
            self.pauseReading()

    def on_body(self, body):
        exchange = self._parsing
        if not exchange.responseComplete:
            exchange.receiveBody(body)

    def on_message_complete(self):
        exchange = self._parsing
        self._parsing = None
        exchange.endBody()

    # -- IExchangeChannel ----------------------------------------------------

    def writeHead(self, exchange, status, headers):
        response = _Response()
        bodyAllowed = not (
            status < 200 or status == 204 or status == 304 or exchange.method == "HEAD"
        )
        keepAlive = exchange.keepAlive
        remaining = None
        hasDate = False
        lines = [_STATUS_LINES[status]]
        append = lines.append
        for name, value in headers:
            if name == b"content-length":
                remaining = int(value)
            elif name == b"date":
                hasDate = True
            elif name == b"connection" and value.lower() == b"close":
                keepAlive = False
            elif name == b"transfer-encoding":
                # The application does not frame: we do.
                continue
            append(name + b": " + value + b"\r\n")
        chunked = False
        if bodyAllowed and remaining is None:
            if exchange.httpVersion == "1.1":
                chunked = True
                append(b"transfer-encoding: chunked\r\n")
            else:
                keepAlive = False
        if not keepAlive:
            append(b"connection: close\r\n")
        elif exchange.httpVersion == "1.0":
            append(b"connection: keep-alive\r\n")
        if not hasDate:
            append(self.factory.dateHeader())
        append(b"\r\n")
        response.head = b"".join(lines)
        response.chunked = chunked
        response.bodyAllowed = bodyAllowed
        response.remaining = remaining if bodyAllowed else None
        response.keepAlive = keepAlive
        self._response = response

    def writeBody(self, exchange, data):
        response = self._response
        if not response.bodyAllowed:
            return
        remaining = response.remaining
        if remaining is not None:
            if len(data) > remaining:
                # Never more than the application's Content-Length said.
                data = data[:remaining]
                response.keepAlive = False
            response.remaining = remaining - len(data)
            if not data:
                return
        elif response.chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        head = response.head
        if head is not None:
            response.head = None
            self.transport.writeSequence([head, data])
        else:
            self.transport.write(data)

    def finishResponse(self, exchange):
        response = self._response
        self._response = None
        out = []
        if response.head is not None:
            out.append(response.head)
        if response.chunked:
            out.append(_LAST_CHUNK)
        if out:
            self.transport.writeSequence(out)
        keepAlive = response.keepAlive and not self._failed
        if response.remaining:
            # Fewer bytes than Content-Length: only closing tells the client.
            keepAlive = False
        if not exchange.bodyComplete:
            if exchange.expectContinue:
                # The client may still be waiting to send; we cannot know.
                keepAlive = False
            else:
                # Discard the rest of a body the application did not read.
                exchange.readBody()
        queue = self._queue
        queue.popleft()
        if not queue and self._errorPending:
            self.transport.write(_errorResponse(400, self.factory.dateHeader()))
        if not keepAlive:
            self._close()
            return
        if len(queue) == MAX_PIPELINED - 1:
            self.resumeReading()
        if queue:
            self._start(queue[0])

    def _start(self, exchange):
        """
        Make C{exchange} the active one and run its application.
        """
        if self._writePaused:
            exchange.pauseWriting()
        self.factory.adapter.handle(exchange)

    def abortResponse(self, exchange):
        self._close()

    def exchangeFinished(self, exchange):
        self.factory.exchangeFinished(exchange)

    def pauseReading(self):
        self._readPauses += 1
        if self._readPauses == 1:
            self.transport.pauseProducing()

    def resumeReading(self):
        self._readPauses -= 1
        if self._readPauses == 0 and not self._failed:
            self.transport.resumeProducing()

    def sendContinue(self):
        if self._response is None:
            self.transport.write(_CONTINUE)

    # -- IPushProducer (towards our transport) --------------------------------

    def pauseProducing(self):
        self._writePaused = True
        if self._queue:
            self._queue[0].pauseWriting()

    def resumeProducing(self):
        self._writePaused = False
        if self._queue:
            self._queue[0].resumeWriting()

    def stopProducing(self):
        pass

    # -- failure and closing -------------------------------------------------

    def _stopAfterQueue(self):
        """
        Read nothing more; close once the queued requests are answered.
        """
        self._failed = True
        self.transport.pauseProducing()
        if not self._queue:
            self._close()

    def _badRequest(self):
        """
        Answer 400 and close (RFC 9112 section 2.2).  Requests queued before
        the bad one are answered first.  A request whose body the error cut
        short is disconnected (its application is told, as for a client that
        left); it gets the 400 if its response had not started.
        """
        self._failed = True
        self.transport.pauseProducing()
        queue = self._queue
        parsing = self._parsing
        self._parsing = None
        if parsing is not None and parsing in queue:
            if parsing is not queue[0]:
                # Queued behind the active request and never started.
                queue.remove(parsing)
                parsing.appFinished()
            else:
                queue.clear()
                parsing.disconnect()
                if not parsing.responseStarted:
                    self.transport.write(_errorResponse(400, self.factory.dateHeader()))
                self._close()
                return
        if queue:
            self._errorPending = True
        else:
            self.transport.write(_errorResponse(400, self.factory.dateHeader()))
            self._close()

    def _close(self):
        self._failed = True
        transport = self.transport
        transport.unregisterProducer()
        transport.loseConnection()


class HTTPFactory(Factory):
    """
    Builds an L{HTTPChannel} per connection and hands each request to one
    application adapter.

    @ivar adapter: runs the application.
    @type adapter: L{IAppAdapter<gracehttp._interfaces.IAppAdapter>}
    @ivar reactor: the clock for grace periods and the C{Date} header.
    @ivar settings: limits, timeouts and the grace period.
    @type settings: L{HTTPSettings}
    @ivar requestsInFlight: requests parsed whose application has not
        finished, across all connections.
    @type requestsInFlight: L{int}
    @ivar requestLog: called with each finished L{Exchange} (the access
        log), or L{None}.
    """

    protocol = HTTPChannel
    noisy = False

    def __init__(self, adapter, reactor, settings=HTTPSettings()):
        """
        @type adapter: L{IAppAdapter<gracehttp._interfaces.IAppAdapter>}
        @type reactor: L{twisted.internet.interfaces.IReactorTime}
        @type settings: L{HTTPSettings}
        """
        self.adapter = adapter
        self.reactor = reactor
        self.settings = settings
        self.requestsInFlight = 0
        self.requestLog = None
        self._dateSecond = None
        self._dateLine = b""

    def exchangeStarted(self, exchange):
        """
        A request head was parsed on one of the connections.

        @type exchange: L{Exchange}
        """
        self.requestsInFlight += 1

    def exchangeFinished(self, exchange):
        """
        A request's application finished (or was never started).

        @type exchange: L{Exchange}
        """
        self.requestsInFlight -= 1
        requestLog = self.requestLog
        if requestLog is not None:
            requestLog(exchange)

    def dateHeader(self):
        """
        The C{date} header line for now (RFC 9110 section 6.6.1), formatted
        once per second.

        @return: C{b"date: <IMF-fixdate>\\r\\n"}
        @rtype: L{bytes}
        """
        now = int(self.reactor.seconds())
        if now != self._dateSecond:
            self._dateSecond = now
            self._dateLine = b"date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii")
        return self._dateLine
