"""
From a parsed HTTP/1.1 request head to an L{Exchange}: the checks llhttp
leaves to us, the head and body limits, the request target, proxy
headers.

Theory of operation
===================

C{httptools} (llhttp) parses; it is strict by default and rejects what
could smuggle a request (Content-Length with Transfer-Encoding, duplicate
Content-Length, bad chunk sizes, obs-fold, whitespace before a colon, bare
LF, invalid characters in the method, target or field names).  When a head
is complete (C{on_headers_complete}) and before any exchange exists we add
the checks it leaves to us (L{gracehttp._protocols.syntax}):

  - versions other than 1.0 and 1.1 (505), HTTP/1.0 with
    Transfer-Encoding (400);
  - transfer codings (RFC 9112 section 6): chunked must be the final one,
    once, or the body's length is unknown: 400 (llhttp would answer only
    after the head, once an application had the request).  A coding before
    chunked (C{gzip, chunked}) is one we do not decode: 501 (RFC 9112
    section 6.1), and the connection closes;
  - C{Host} (RFC 9112 section 3.2): exactly one field, required in
    HTTP/1.1, whose value is C{uri-host [":" port]}; else 400.  A value is
    checked once per connection (clients repeat it).  The authority of an
    absolute-form target replaces the field's value (RFC 9112 section
    3.2.2), so the application sees the host the request was sent to;
  - a fragment (C{#...}) is not part of a request target: it is cut off,
    as gunicorn, uvicorn and waitress do, so neither the application nor
    the access log sees it.

Limits (L{HTTPSettings<gracehttp._settings.HTTPSettings>}), each an integer
comparison per request or per read, nothing per header field:

  - head size (C{limitRequestHeaderSize}, answered 431, RFC 6585 section
    5): the size counted is the request target plus each field's name and
    value plus 4 bytes (C{": "} and CRLF).  The bytes of the reads a head
    overlaps bound it from above, so the exact count is only computed when
    that bound is over the limit (a big read, or a head over several
    reads).  A head still incomplete at the end of a read has every later
    read to itself: once those are over the limit it is a 431 without
    waiting for the head to end (L{parsing
    <gracehttp._protocols.http11.parsing>}), so an endless field is
    stopped at the limit plus at most one read.  C{limitRequestHeaders}:
    more fields are a 431.  Trailer fields are counted against both limits
    and discarded (RFC 9110 section 6.5.1).
  - body size: a Content-Length over C{limitRequestBody} is a 413 before
    the exchange is created; a chunked body is counted as it arrives and
    once over, the exchange is disconnected (the application is told) and
    413 is sent if its response had not started.

While a request body larger than the exchange's buffer (or chunked)
arrives, the transport reads L{LARGE_BODY_READ_SIZE} bytes at a time.

Proxy headers (L{gracehttp._core.proxy}) are applied when the exchange is
built, only on connections whose peer the factory trusts (decided once per
connection).

A rejection is raised from inside the parser's callback (which stops the
parse at once) with the status kept in C{_rejectStatus}; the request is
logged all the same (L{ExchangeBuilder._rejectedRecord}).
"""

import httptools

from gracehttp._core.exchange import BODY_BUFFER_SIZE, REJECTED, Exchange
from gracehttp._core.proxy import forwarded
from gracehttp._protocols.syntax import targetAuthority, transferCodingStatus, validHost

LARGE_BODY_READ_SIZE = 256 * 1024
"""
Bytes asked of the socket per read while a request body larger than
L{BODY_BUFFER_SIZE<gracehttp._core.exchange.BODY_BUFFER_SIZE>} (or chunked) is
arriving, instead of the transport's usual C{bufferSize} (64 KiB): a
256 KiB upload then takes one or two reads and reactor turns instead of
five (measured on the benchmark's 256 KiB echo, one core: 2,500-2,900 ->
3,400-4,300 requests/s).  The
transport's C{bufferSize} is also its write buffer's high-water mark, so it
is raised only until the request body is complete.
"""

LOGGED_TARGET = 1024
"""
Bytes of a rejected request's target kept for the access log (a 431 for a
64 KiB target should not make a 64 KiB log line).
"""

# "#" as an int: C{int in bytes} is a plain byte search, while
# C{bytes in bytes} first tries (and fails) to read an int, twice as slow.
_NUMBER_SIGN = ord("#")


class Reject(Exception):
    """
    Raised from a parser callback to stop parsing; the channel's
    C{_rejectStatus} says how to answer.
    """


class ExchangeBuilder:
    """
    Building the exchange from a parsed head: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it reads what the parser gathered, C{_url} and
    C{_headers}, and the connection's addresses and settings).

    @ivar _hostSeen: the last C{Host} value found valid on this connection,
        or L{None}.
    @type _hostSeen: L{bytes}
    @ivar _rejectStatus: the status of the rejection under way.
    @type _rejectStatus: L{int}
    """

    def _initBuilder(self):
        self._hostSeen = None
        self._rejectStatus = 400

    def _fail(self, status):
        """
        Stop the parser from inside a callback; the request is answered
        with C{status}.
        """
        self._rejectStatus = status
        raise Reject(status)

    def on_headers_complete(self):
        # One function for the usual head, on purpose: each call it makes on
        # every request costs about 700 instructions (1% of a pipelined GET,
        # bench/parsing.py under callgrind), so the field loop stays here
        # and only the unusual parts are calls.
        # _inHead stays true until the head is accepted, so that a
        # rejection below is logged with what the head said.
        self._fresh = False
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            # RFC 9110 section 15.6.6; HTTP/0.9 has no version to refuse.
            self._fail(400 if version == "0.9" else 505)
        headers = self._headers
        if len(headers) > self._limitHeaders or (
            self._headFed > self._limitHeadSize and self._headSize() > self._limitHeadSize
        ):
            self._fail(431)
        expectContinue = False
        length = None
        host = None
        codings = None
        for name, value in headers:
            if name == b"host":
                if host is not None:
                    # RFC 9112 section 3.2: one Host field.
                    self._fail(400)
                host = value
            elif name == b"transfer-encoding":
                if version == "1.0":
                    # RFC 9112 section 6.1: chunked framing is not HTTP/1.0's.
                    self._fail(400)
                codings = value if codings is None else codings + b"," + value
            elif name == b"content-length":
                length = int(value)
                if length > self._limitBody:
                    self._fail(413)
                if self._headFirstRead >= 0:
                    self._spannedLength = length
            elif name == b"expect" and value.lower() == b"100-continue":
                expectContinue = True
        if codings is not None or host is None or host != self._hostSeen:
            self._checkFraming(version, codings, host)
        url = self._url
        if _NUMBER_SIGN in url or url[:1] != b"/":
            url = self._originForm(url, headers)
        if (
            codings is not None or (length is not None and length > BODY_BUFFER_SIZE)
        ) and self._defaultReadSize is not None:
            # A body larger than the exchange's buffer, or of unknown size.
            self._largeReads = True
            self.transport.bufferSize = LARGE_BODY_READ_SIZE
        self._inHead = False
        self._trailerSize = 0
        self._trailerFields = 0
        self._bodyRoom = self._limitBody if length is None else length
        exchange = self._newExchange(url, version, headers, expectContinue)
        if self._switch is not None and codings is None and not length and parser.should_upgrade():
            # Offered to the protocol switch once the upgrade is read.
            self._upgrade = exchange
        self._parsing = exchange
        self._enqueue(exchange)
        if codings is not None and not parser.should_upgrade():
            # Its body is read from here by a ChunkedBodyReader.
            raise SwitchToChunked()

    def _checkFraming(self, version, codings, host):
        """
        Check what a head that is not the usual one says: its transfer
        codings (RFC 9112 section 6), a missing C{Host} (RFC 9112 section
        3.2), a C{Host} value not seen on this connection yet.

        @param codings: the C{Transfer-Encoding} values joined, or L{None}.
        @param host: the C{Host} value, or L{None}.
        @raise Reject: the head is refused.
        """
        if codings is not None:
            status = transferCodingStatus(codings)
            if status is not None:
                self._fail(status)
        if host is None:
            if version == "1.1":
                # RFC 9112 section 3.2: HTTP/1.1 must send Host.
                self._fail(400)
        elif host != self._hostSeen:
            # Clients send one Host on a connection: check it once.
            if not validHost(host):
                self._fail(400)
            self._hostSeen = host

    def _newExchange(self, url, version, headers, expectContinue):
        """
        The exchange for the head just parsed, its request fields filled
        in (the client and scheme from proxy headers on a trusted
        connection).

        @param url: the request target in origin-form.
        @rtype: L{Exchange}
        """
        parser = self._parser
        exchange = Exchange(self, self._reactor, self._grace)
        # Consumption matters only once its body stops parsing: ReadGate.
        exchange.reportConsumed = False
        exchange.expectContinue = expectContinue
        path, _, query = url.partition(b"?")
        exchange.method = parser.get_method().decode("ascii")
        exchange.rawPath = path
        exchange.queryString = query
        exchange.httpVersion = version
        exchange.headers = headers
        if self._trusted is None:
            exchange.client = self._client
            exchange.scheme = self._scheme
        else:
            exchange.client, exchange.scheme = forwarded(
                headers, self._trusted, self._client, self._scheme
            )
        exchange.server = self._server
        exchange.keepAlive = parser.should_keep_alive()
        return exchange

    def _headSize(self):
        """
        The counted size of the head just parsed: the request target, and
        each field's name and value plus 4 bytes (C{": "} and CRLF).

        @rtype: L{int}
        """
        return len(self._url) + sum(len(name) + len(value) + 4 for name, value in self._headers)

    def _originForm(self, url, headers):
        """
        A request target that is not a plain path and query: cut its
        fragment off (not part of a request target, RFC 9112 section 3.2:
        clients never send one, and the application never sees it), and
        take an absolute-form target apart (RFC 9112 section 3.2.2): its
        authority replaces the C{Host} field, as an origin server must use
        it, and its path and query are the request's.

        @param url: the target.
        @param headers: the request's fields, changed in place.
        @type headers: L{list}
        @return: the target in origin-form, or C{*}.
        @rtype: L{bytes}
        """
        if _NUMBER_SIGN in url:
            url = url[: url.index(b"#")]
        if url[:1] == b"/" or url == b"*":
            return url
        authority = targetAuthority(url)
        if authority is None:
            self._fail(400)
        for index, (name, _) in enumerate(headers):
            if name == b"host":
                headers[index] = (name, authority)
                break
        else:
            headers.append((b"host", authority))
        parsed = httptools.parse_url(url)
        origin = parsed.path or b"/"
        if parsed.query:
            origin += b"?" + parsed.query
        return origin

    def _rejectedRecord(self, status, inHead):
        """
        What is known of a request rejected before it became an exchange,
        for the access log: the method, target (at most L{LOGGED_TARGET}
        bytes of it) and version if they were parsed, the header fields
        parsed so far, and C{status} with the L{REJECTED} outcome.

        @type status: L{int}
        @param inHead: the rejection came inside a request head (else
            before one began: nothing of it is known).
        @type inHead: L{bool}
        @rtype: L{Exchange}
        """
        record = Exchange(self, self._reactor, 0)
        url = self._url if inHead else b""
        record.method = self._parser.get_method().decode("ascii") if url else None
        path, _, query = url[:LOGGED_TARGET].partition(b"?")
        record.rawPath = path
        record.queryString = query
        version = self._parser.get_http_version() if url else "0.0"
        record.httpVersion = None if version == "0.0" else version
        record.headers = self._headers if inHead else []
        record.client = self._client
        record.server = self._server
        record.scheme = self._scheme
        record.status = status
        record.outcome = REJECTED
        record.endTime = record.startTime
        return record


class SwitchToChunked(Exception):
    """
    Raised from C{on_headers_complete} to stop parsing at the end of a
    chunked request's head: its body is read by a L{ChunkedBodyReader
    <gracehttp._protocols.http11.chunked.ChunkedBodyReader>}.
    """
