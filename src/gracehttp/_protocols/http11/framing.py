"""
HTTP/1.1 response framing: the head, the body's framing, interim and error
responses.

Theory of operation
===================

The response head is held until the first body bytes or the end of the
response so head and body leave in one write (and, until then, can be
taken back: L{ResponseFraming.retractHead}).  Framing (RFC 9112 section
6): the application's Content-Length is honoured (never more bytes than it
says; fewer closes the connection); without one an HTTP/1.1 response is
chunked and an HTTP/1.0 one is delimited by closing the connection.
Responses to HEAD and 1xx/204/304 responses carry no body, with the
application's status and headers intact.  Every response carries a C{Date}
(the server state's, formatted once a second) unless the application gave
one.

C{100 Continue} (RFC 9110 section 10.1.1) is sent when the application
first reads the body of a request that asked for it, and only while the
client may still be waiting: its body is not complete, it is not
disconnected and its response has not started.

The error responses the server sends itself (400, 408, 413, 431, 501, 505)
are complete, short, and close the connection (L{errorResponse}).

Every write goes through L{writerFor<gracehttp._protocols.socketwriter.writerFor>}:
on a plain TCP connection with nothing buffered it sends at once instead of
waiting for the reactor's next turn.
"""

from http import HTTPStatus

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


def _statusLine(status):
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("ascii"))


_STATUS_LINES = {status: _statusLine(status) for status in range(100, 600)}


def errorResponse(status, date):
    """
    A complete response the server itself sends (400, 408, 413, 431, 501,
    505) before closing, in place of an application's.

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

    __slots__ = ("bodyAllowed", "chunked", "head", "keepAlive", "remaining")


class ResponseFraming:
    """
    Response framing: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it reads the channel's C{_noKeepAlive}, C{_queue} and
    C{_serverState}).  It provides the response side of
    L{IExchangeChannel<gracehttp._core.interfaces.IExchangeChannel>} but
    C{finishResponse}, which ends with L{_endResponse}.

    @ivar _response: the active exchange's response, from its head to its
        end, or L{None}.
    @type _response: L{_Response}
    @ivar _writer: what writes to the transport.
    @type _writer: L{SocketWriter<gracehttp._protocols.socketwriter.SocketWriter>}
        or the transport
    """

    def _initFraming(self):
        self._response = None

    def writeHead(self, exchange, status, headers):
        response = _Response()
        bodyAllowed = not (
            status < 200 or status == 204 or status == 304 or exchange.method == "HEAD"
        )
        keepAlive = exchange.keepAlive and not self._noKeepAlive
        remaining = None
        hasDate = False
        lines = [_STATUS_LINES[status]]
        append = lines.append
        for name, value in headers:
            if name == b"content-length":
                remaining = int(value)
            elif name == b"date":
                hasDate = True
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
            append(self._serverState.dateHeader())
        append(b"\r\n")
        response.head = b"".join(lines)
        response.chunked = chunked
        response.bodyAllowed = bodyAllowed
        response.remaining = remaining if bodyAllowed else None
        response.keepAlive = keepAlive
        self._response = response

    def retractHead(self, exchange):
        response = self._response
        if response is None or response.head is None:
            return False
        self._response = None
        return True

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
            # The chunk's framing around the data, not a copy of it.
            out = [b"%x\r\n" % len(data), data, b"\r\n"]
            head = response.head
            if head is not None:
                response.head = None
                out.insert(0, head)
            self._writer.writeSequence(out)
            return
        head = response.head
        if head is not None:
            response.head = None
            self._writer.writeSequence([head, data])
        else:
            self._writer.write(data)

    def _endResponse(self):
        """
        Send what is left of the active exchange's response (its head if
        still held, the last chunk).

        @return: whether the connection may carry another request as far as
            this response goes: not if the client or the application asked
            to close, the response is delimited by the close, or fewer
            bytes than its Content-Length were sent.
        @rtype: L{bool}
        """
        response = self._response
        self._response = None
        out = []
        if response.head is not None:
            out.append(response.head)
        if response.chunked:
            out.append(_LAST_CHUNK)
        if out:
            self._writer.writeSequence(out)
        if response.remaining:
            # Fewer bytes than Content-Length: only closing tells the client.
            return False
        return response.keepAlive

    def continueWanted(self, exchange):
        queue = self._queue
        if (
            self._response is None
            and queue
            and queue[0] is exchange
            and not exchange.bodyComplete
            and not exchange.disconnected
        ):
            self._writer.write(_CONTINUE)

    def _writeError(self, status):
        """
        Send the complete error response for C{status} (L{errorResponse}).

        @type status: L{int}
        """
        self._writer.write(errorResponse(status, self._serverState.dateHeader()))
