"""
Spooling a chunked request body before a WSGI application starts.

Why
===

PEP 3333 gives the application the body length only through
C{CONTENT_LENGTH}, and most frameworks read that many bytes and no more:
Django's request reads nothing of a body without it, and an application
that refuses C{Transfer-Encoding: chunked} outright answers 501.  The
C{wsgi.input_terminated} extension (read to the end of the input) is
honoured by few.  So by default (C{wsgiChunkedBody="spool"}) a chunked
request body (RFC 9112 section 7.1) is received whole before the
application starts, and the application gets a C{CONTENT_LENGTH} and no
C{chunked} in C{HTTP_TRANSFER_ENCODING}, as for any body with a length.

Theory of operation
===================

A L{BodySpool} is the exchange's C{wake} callback while the body arrives
(reactor thread): at each wake it takes what the exchange buffered
(C{exchange.readBody()}, which also sends C{100 Continue} the first time
and resumes reading if the exchange's buffer had filled) and writes it to
a L{tempfile.SpooledTemporaryFile}: in memory up to L{SPOOL_MEMORY}
bytes, past that an unnamed temporary file.  So a slow upload holds a
connection and a spool, never a thread, and memory stays bounded whatever
the body's size; the body's size itself is bounded by
C{--limit-request-body}, which the HTTP channel enforces (413) as the
chunks arrive.  Writes go to the page cache, so the reactor pays a copy
per chunk, as it does to buffer a body anyway.

The spool ends in exactly one of these ways, and in each its file is
closed (an unnamed temporary file is then gone from the disk):

  - the body is complete: C{done(spool)} is called; the adapter sets
    C{CONTENT_LENGTH} and admits the request to a thread.  The file is
    then read by the worker thread through L{BodySpool.fill} (in blocks
    of L{READ_SIZE} bytes), and closed by whoever ends the request (see
    L{gracehttp._apps.wsgi.response.SpooledResponse});
  - the request ends first: the client leaves, or the HTTP channel gives
    the body up (too large: 413; stalled for C{--timeout-header} seconds:
    408; malformed: 400) and answers it itself: the application never
    starts; the request is logged as dropped, as one whose client left
    while it waited for a thread is, and the exchange is told the
    application finished;
  - the spool cannot be written (the disk is full): C{500} and the
    connection closes.
"""

from tempfile import SpooledTemporaryFile

from twisted.logger import Logger

from gracehttp._errors import ClientDisconnected

_log = Logger()

SPOOL_MEMORY = 512 * 1024
"""
Bytes of a chunked request body held in memory before the spool moves to
a temporary file.  Typical form and API bodies (a few KiB) never touch the
disk; the memory a spooling request can hold is bounded by this (plus one
read of the socket, at most 256 KiB): eight times the body buffer every
request with a body already has, so a thousand concurrent chunked uploads
hold at most about 0.75 GiB.  Past it a temporary file costs one C{open}
of an unnamed file, little beside sending half a megabyte.
"""

READ_SIZE = 64 * 1024
"""
Bytes the worker reads from the spool per C{wsgi.input} fill.
"""


class BodySpool:
    """
    Receives one request's chunked body into a spool on the reactor thread
    (see the module docstring).

    @ivar size: body bytes spooled so far.
    @type size: L{int}
    """

    __slots__ = ("_done", "_exchange", "_file", "size")

    def __init__(self, exchange, done):
        """
        @param exchange: the request; its body is chunked.
        @type exchange: L{gracehttp._core.exchange.Exchange}
        @param done: called with this spool, on the reactor thread, once the
            body is complete; the spool is positioned at its start.
        @type done: one-argument callable
        """
        self.size = 0
        self._exchange = exchange
        self._file = SpooledTemporaryFile(SPOOL_MEMORY)
        self._done = done

    def start(self):
        """
        Become the exchange's C{wake} callback and take what has arrived.
        Reactor thread.
        """
        self._exchange.wake = self.wake
        self.wake()

    def wake(self):
        """
        The exchange changed: spool what arrived; end if the body is
        complete or the client left.  Reactor thread.
        """
        exchange = self._exchange
        if exchange.disconnected:
            self._end()
            _log.info(
                "Dropped WSGI request {method} {path}: it ended (the client left, "
                "or its body was refused) before its chunked body was complete",
                method=exchange.method,
                path=exchange.rawPath.decode("latin-1"),
            )
            exchange.appFinished()
            return
        data = exchange.readBody()
        if data:
            try:
                self._file.write(data)
            except OSError as e:
                self._failed(e)
                return
            self.size += len(data)
        if exchange.bodyComplete:
            exchange.wake = None
            self._file.seek(0)
            self._done(self)

    def fill(self):
        """
        The next block of the spooled body, for
        L{WSGIInput<gracehttp._apps.wsgi.input.WSGIInput>}.  Worker thread, once
        the body is complete.

        @return: up to L{READ_SIZE} bytes; C{b""} at the end.
        @rtype: L{bytes}
        """
        return self._file.read(READ_SIZE)

    def close(self):
        """
        Close the spool; a temporary file is deleted.  Any thread; more
        than once is harmless.
        """
        self._file.close()

    def _end(self):
        """
        The spool will not be used: forget the exchange's wake, close the
        file.
        """
        self._exchange.wake = None
        self.close()

    def _failed(self, error):
        """
        The spool could not be written: answer 500 and close.
        """
        self._end()
        _log.error(
            "WSGI request {method} {path}: cannot spool the request body: {error}",
            method=self._exchange.method,
            path=self._exchange.rawPath.decode("latin-1"),
            error=error,
        )
        _serverError(self._exchange)


def spooledInput(spool, bridge):
    """
    The C{fill} callable of a spooled request's C{wsgi.input}: the spool's
    blocks while the client is connected.

    @type spool: L{BodySpool}
    @param bridge: its C{disconnected} is the worker's view of the client.
    @type bridge: L{gracehttp._apps.wsgi.bridge.Bridge}
    @rtype: zero-argument callable returning L{bytes}
    @raise ClientDisconnected: (from the callable) the client is gone, even
        though the body is all here (PEP 3333 lets the application find
        out the usual way).
    """
    fill = spool.fill

    def read():
        if bridge.disconnected:
            raise ClientDisconnected("client disconnected")
        return fill()

    return read


def withoutChunked(codings):
    """
    The transfer codings of a request left once its body is de-chunked.

    @param codings: C{HTTP_TRANSFER_ENCODING}: comma-separated transfer
        codings (RFC 9112 section 6.1), C{chunked} last.
    @type codings: L{str}
    @return: the codings before the final C{chunked}, comma-separated;
        usually C{""}.
    @rtype: L{str}
    """
    names = [name.strip() for name in codings.split(",")]
    names = [name for name in names if name]
    if names and names[-1].lower() == "chunked":
        names.pop()
    return ", ".join(names)


def _serverError(exchange):
    """
    Answer 500 to a request the application never saw, close the
    connection (the rest of its body is not read) and end the exchange.

    @type exchange: L{gracehttp._core.exchange.Exchange}
    """
    exchange.keepAlive = False
    exchange.answerServerError()
    exchange.appFinished()
