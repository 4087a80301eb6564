"""
Parsing the requests of an HTTP/1.1 connection: the read, llhttp's
callbacks, and finding where in a read a request begins.

Theory of operation
===================

Each read goes to the connection's C{httptools} (llhttp) parser, whose
callbacks gather the request head (C{on_url}, C{on_header}), build the
exchange when the head is complete (C{on_headers_complete}, L{head
<gracehttp._protocols.http11.head>}), and give it its body (C{on_body},
C{on_message_complete}).  Three things take a read away from it:

  - a chunked request body: its C{on_headers_complete} raises
    L{SwitchToChunked<gracehttp._protocols.http11.head.SwitchToChunked>},
    which stops llhttp at the end of the head, and the body goes to a
    L{ChunkedBodyReader<gracehttp._protocols.http11.chunked.ChunkedBodyReader>}
    (the channel's C{_divert}); after the body a new parser takes the
    requests that follow;
  - a method llhttp does not know: a L{RefusedMethodReader
    <gracehttp._protocols.http11.refusedmethod.RefusedMethodReader>} waits
    for the request line to end, then answers it;
  - an upgrade request (C{Upgrade}, C{CONNECT}): llhttp stops after its
    head, and nothing after it is parsed (L{upgrade
    <gracehttp._protocols.http11.upgrade>}).

C{httptools} does not say where in a read it stopped, and a switch to the
chunked reader or a refused method needs to know where that request began
(or its head ended).  Only then is the read walked (L{heads
<gracehttp._protocols.syntax.heads>}), from the state it found (a
Content-Length body with so many bytes to come, or a head whose end is
found with the previous read's last three bytes), over requests llhttp has
already accepted, so with its framing: empty lines skipped, a head ending
at its first CRLFCRLF, a body only by Content-Length.  A read that ends
inside a method keeps the method's bytes.

A bad request stops the parser (a rejection is raised from inside a
callback, L{ExchangeBuilder._fail
<gracehttp._protocols.http11.head.ExchangeBuilder._fail>}) and is answered
(the channel's C{_reject}).
"""

import httptools
from twisted.logger import Logger

from gracehttp._core.exchange import BODY_BUFFER_SIZE
from gracehttp._protocols.http11.chunked import ChunkedBodyReader
from gracehttp._protocols.http11.head import SwitchToChunked
from gracehttp._protocols.http11.refusedmethod import RefusedMethodReader
from gracehttp._protocols.http11.states import OPEN
from gracehttp._protocols.syntax import NOT_HTTP_METHOD, field, headEnd, heads, refusesMethod

_log = Logger()


class RequestParsing:
    """
    Parsing: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it calls the channel's timer, exchange builder and
    C{_reject}).  Its C{on_*} methods are llhttp's callbacks.

    @ivar _parser: the connection's llhttp parser.
    @type _parser: L{httptools.HttpRequestParser}
    @ivar _divert: the reader that takes the reads instead of the parser
        (a chunked body, a refused method's request line), or L{None}.
    @ivar _readSize: the size of the read being parsed.
    @ivar _inHead: a request head is being parsed.
    @ivar _headFed: the bytes of the reads the head under way overlaps:
        an upper bound of its size.
    @ivar _headFirstRead: L{_headFed} at the end of the read the head
        began in, or -1 while that read is parsed (the head has not
        spanned reads).
    @ivar _headTail: the last three bytes read of a head that spans reads,
        to find its end in the next read.
    @ivar _spannedLength: the Content-Length of a head that spanned reads
        (0 for none), to find where its body ends in the read.
    @ivar _methodHead: the bytes of a head that spans reads, from its
        first, while its method is not complete.
    @ivar _url: the request target parsed so far.
    @type _url: L{bytes}
    @ivar _headers: the head's fields parsed so far, names lowercased.
    @type _headers: L{list} of (L{bytes}, L{bytes})
    @ivar _parsing: the exchange whose body is being read, or L{None}.
    @ivar _bodyRoom: the body bytes still allowed: what its Content-Length
        has still to come, or what C{limitRequestBody} still allows of a
        chunked body.
    @ivar _trailerSize: the counted size of the trailer fields so far.
    @ivar _trailerFields: how many trailer fields so far.
    @ivar _largeReads: the transport reads L{LARGE_BODY_READ_SIZE
        <gracehttp._protocols.http11.head.LARGE_BODY_READ_SIZE>} bytes at a
        time until the body under way is complete.
    """

    def _initParsing(self):
        self._divert = None
        self._readSize = 0
        self._inHead = False
        self._headFed = 0
        self._headFirstRead = 0
        self._headTail = b""
        self._spannedLength = 0
        self._methodHead = b""
        self._url = b""
        self._headers = []
        self._parsing = None
        self._bodyRoom = 0
        self._trailerSize = 0
        self._trailerFields = 0
        self._largeReads = False

    def _feed(self, data):
        """
        Parse C{data}; answer and close on a bad or rejected request; time
        a body still incomplete at the end of the read.
        """
        self._parse(data)
        if self._parsing is not None and not self._inHead and self._state is OPEN:
            self._bodyContinues()

    def _parse(self, data):
        """
        Parse C{data}; answer and close on a bad or rejected request.
        """
        while True:
            divert = self._divert
            if divert is not None:
                # A chunked body, or a request line being awaited: what
                # follows the body comes back to be parsed here.
                data = divert(data)
                if not data:
                    return
            self._readSize = size = len(data)
            inHead = self._inHead
            if inHead:
                self._headFed += size
            # Where the read began, for finding a head in it (_firstHead).
            bodyLeft = self._bodyRoom if self._parsing is not None else 0
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade as e:
                # Nothing after an upgrade request is HTTP/1.1: its first
                # argument is where in data its head ended.
                if self._state is OPEN:
                    self._upgradeRequested(data, e.args[0])
                return
            except httptools.HttpParserInvalidMethodError:
                if self._state is OPEN:
                    self._methodRefused(data, inHead, bodyLeft)
                return
            except httptools.HttpParserError as e:
                if self._state is not OPEN:
                    # Parsing was stopped because the connection is closing.
                    return
                if isinstance(e.__context__, SwitchToChunked):
                    data = self._startChunked(data, inHead, bodyLeft)
                    if not data:
                        return
                    continue
                self._parseFailed(e)
                return
            if self._inHead:
                self._headContinues(data, inHead, bodyLeft)
            return

    def _parseFailed(self, error):
        """
        A parser stopped on a bad or rejected request: answer it.

        @type error: L{httptools.HttpParserError}
        """
        status = self._rejectStatus
        if status == 400 and str(error) == NOT_HTTP_METHOD:
            status = 501
        if status == 400 or status == 501:
            _log.info("Bad request from {client}: {error}", client=self._client, error=error)
        self._reject(status)

    def _headContinues(self, data, inHead, bodyLeft):
        """
        A read ended inside a request head (rare: most heads arrive in one
        read).  The first time, time the head; later, check its size: every
        read after the one it began in is all head.  Keep the read's last
        bytes, to find the head's end in the next (L{_firstHead}), and, while
        the method is not complete, the head so far (L{_methodRefused}).
        """
        if self._headFirstRead < 0:
            self._headFirstRead = self._headFed
            if self._url == b"":
                self._methodHead = data[self._lastHead(data, inHead, bodyLeft) :]
            self._spannedLength = 0
            self._headTail = data[-3:]
            self._timeHead()
            return
        if self._url == b"":
            self._methodHead += data
        self._headTail = (self._headTail + data)[-3:]
        if self._headFed - self._headFirstRead > self._limitHeadSize:
            # Over the limit, found at most one read late.
            self._reject(431)

    # -- where a request begins in a read ---------------------------------------

    def _firstHead(self, data, inHead, bodyLeft):
        """
        Where the first request that begins in C{data} may begin, from the
        state the read found: after the body under way (C{bodyLeft} bytes of
        its Content-Length), or after the head under way and its body.

        @param inHead: a head was under way when C{data} was read.
        @param bodyLeft: a Content-Length body's bytes still to come when
            C{data} was read, or 0.
        @rtype: L{int}
        """
        if not inHead:
            return bodyLeft
        end = headEnd(self._headTail, data)
        return len(data) if end < 0 else end + self._spannedLength

    def _lastHead(self, data, inHead, bodyLeft):
        """
        @return: where the request whose head is still incomplete at the end
            of C{data} begins in it.
        @rtype: L{int}
        """
        for start, end in heads(data, self._firstHead(data, inHead, bodyLeft)):
            if end < 0:
                return start
        # The head began in an earlier read.
        return 0

    def _startChunked(self, data, inHead, bodyLeft):
        """
        The head of a chunked request ended in C{data} (its
        C{on_headers_complete} raised L{SwitchToChunked}): read its body
        with a L{ChunkedBodyReader}, and start a new parser for the
        requests after it.

        @return: the bytes of C{data} after the head.
        @rtype: L{bytes}
        """
        if self._headFirstRead >= 0:
            # The head began in an earlier read.
            start = headEnd(self._headTail, data)
        else:
            start = -1
            for begin, end in heads(data, self._firstHead(data, inHead, bodyLeft)):
                if end > 0 and field(data[begin:end], b"transfer-encoding") is not None:
                    start = end
                    break
        if start < 0:
            # Not where llhttp found it: never guess where a body begins.
            _log.error(
                "Chunked request head not found in the read from {client}", client=self._client
            )
            self._reject(400)
            return None
        self._divert = ChunkedBodyReader(self).feed
        self._parser = httptools.HttpRequestParser(self)
        return data[start:]

    def _methodRefused(self, data, inHead, bodyLeft):
        """
        llhttp refused the method of the request under way in C{data}: find
        where that request began, and give it to a L{RefusedMethodReader},
        which answers it once its request line is complete.
        """
        if self._headFirstRead >= 0:
            head = self._methodHead + data
        else:
            start = 0
            for start, end in heads(data, self._firstHead(data, inHead, bodyLeft)):
                if end < 0 or refusesMethod(data[start : start + 32]):
                    break
            head = data[start:]
        self._methodHead = b""
        reader = RefusedMethodReader(self)
        self._divert = reader.feed
        reader.feed(head)

    # -- httptools callbacks -------------------------------------------------

    def on_message_begin(self):
        if self._state is not OPEN:
            self._fail(None)
        self._url = b""
        self._headers = []
        self._inHead = True
        # An upper bound of the head's size: the reads it overlaps.
        self._headFed = self._readSize
        self._headFirstRead = -1

    def on_url(self, url):
        self._url += url

    def on_header(self, name, value):
        if self._inHead:
            self._headers.append((name.lower(), value))
        else:
            # A trailer field: counted, then discarded (RFC 9110 section
            # 6.5.1).
            self._trailerFields += 1
            size = self._trailerSize + len(name) + len(value) + 4
            self._trailerSize = size
            if size > self._limitHeadSize or self._trailerFields > self._limitHeaders:
                self._fail(431)

    def on_body(self, body):
        room = self._bodyRoom - len(body)
        self._bodyRoom = room
        if room < 0:
            self._fail(413)
        exchange = self._parsing
        if not exchange.responseComplete:
            if exchange.receiveBody(body) > BODY_BUFFER_SIZE:
                self._bodyFull(exchange)

    def on_message_complete(self):
        if self._largeReads:
            self._largeReads = False
            self.transport.bufferSize = self._defaultReadSize
        exchange = self._parsing
        self._parsing = None
        self._bodyTime = None
        exchange.endBody()
