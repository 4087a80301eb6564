"""
One call of a WSGI application (PEP 3333), run on a worker thread:
C{start_response}, C{write}, iterating the response, C{close()}, and what
an error or a disconnect turns into.

Everything reaches the exchange through a L{Bridge<gracehttp._apps.wsgi.bridge.Bridge>}.
The head is handed over with the first non-empty body chunk, or at the end
(PEP 3333, "The start_response() Callable": not before the first non-empty
chunk), so an application may still replace it with C{exc_info} until then.

A response that is a L{FileWrapper} (C{environ["wsgi.file_wrapper"]},
PEP 3333 "Optional Platform-Specific File Handling") is not iterated: its
file is read in blocks of at least L{FILE_BLOCK} bytes on the worker thread
(an application's own block size is often 4 or 8 KiB, which would cost a
hand-off to the reactor per block), and handed over as any body is.
"""

from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from gracehttp._apps.wsgi.bridge import ABORT, FINISH
from gracehttp._core.exchange import SERVER_ERROR_BODY, SERVER_ERROR_HEADERS
from gracehttp._core.responsehead import TOKEN_CHARS, InvalidResponse
from gracehttp._errors import ClientDisconnected

_log = Logger()

_ERROR_HEAD = (500, list(SERVER_ERROR_HEADERS))

FILE_BLOCK = 256 * 1024
"""
The smallest block, in bytes, read from a L{FileWrapper}'s file at a time:
the bridge's L{HIGH_WATER<gracehttp._apps.wsgi.bridge.HIGH_WATER>}, so that the
worker reads the next block while the reactor sends the one before.
"""

# Caches of checked status lines and field names, bounded because both
# come from the application.
_STATUSES: dict[str, int] = {}
_NAMES: dict[str, bytes] = {}
_MAX_CACHED = 256


def _statusCode(status):
    """
    Check a PEP 3333 status string such as C{"200 OK"}.

    @type status: L{str}
    @return: the status code, 100-599 (RFC 9110 section 15).
    @rtype: L{int}
    @raise InvalidResponse: C{status} is not a three-digit code in range
        followed by a space and a reason phrase (or nothing).
    """
    code = _STATUSES.get(status) if type(status) is str else None
    if code is None:
        if (
            type(status) is not str
            or not status[:3].isdecimal()
            or (len(status) > 3 and status[3] != " ")
            or not 100 <= int(status[:3]) <= 599
        ):
            raise InvalidResponse(f"invalid status {status!r} (PEP 3333)")
        code = int(status[:3])
        if len(_STATUSES) < _MAX_CACHED:
            _STATUSES[status] = code
    return code


def _fieldName(name):
    """
    Check and encode a response field name.

    @type name: L{str}
    @rtype: L{bytes}
    @raise InvalidResponse: not a native string, or not a token (RFC 9110
        section 5.6.2).  (Hop-by-hop fields, which PEP 3333 "Other HTTP
        Features" forbids, are not an error: the exchange drops them, as for
        ASGI; see L{gracehttp._core.responsehead.HOP_BY_HOP}.)
    """
    encoded = _NAMES.get(name)
    if encoded is None:
        if type(name) is not str:
            raise InvalidResponse(f"header name {name!r} is not a str (PEP 3333)")
        encoded = name.encode("latin-1", "replace")
        if not encoded or encoded.translate(None, TOKEN_CHARS):
            raise InvalidResponse(f"invalid header name {name!r}")
        if len(_NAMES) < _MAX_CACHED:
            _NAMES[name] = encoded
    return encoded


def _encodeHeaders(headers):
    """
    Check and encode C{start_response}'s C{response_headers}.

    @type headers: L{list} of (L{str}, L{str})
    @rtype: L{list} of (L{bytes}, L{bytes})
    @raise InvalidResponse: see L{_fieldName}; or a value is not a native
        string, not latin-1, or contains CR, LF or NUL (RFC 9110 section
        5.5).
    """
    if type(headers) is not list:
        raise InvalidResponse(f"response_headers must be a list (PEP 3333), not {headers!r}")
    encoded = []
    for name, value in headers:
        if type(value) is not str:
            raise InvalidResponse(f"header {name!r}: {value!r} is not a str (PEP 3333)")
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidResponse(f"header {name!r}: {value!r} is not latin-1 (PEP 3333)") from None
        if "\r" in value or "\n" in value or "\0" in value:
            raise InvalidResponse(f"header {name!r}: {value!r} contains CR, LF or NUL")
        encoded.append((_fieldName(name), raw))
    return encoded


def _checkBytes(data):
    """
    @raise TypeError: C{data} is not L{bytes} (PEP 3333: body chunks are
        bytestrings).
    """
    if type(data) is not bytes:
        raise TypeError(f"WSGI body chunks must be bytes, not {type(data).__name__}")


class FileWrapper:
    """
    C{environ["wsgi.file_wrapper"]} (PEP 3333, "Optional Platform-Specific
    File Handling"): wraps a file-like object as a response iterable that
    the server recognises and sends in large blocks.

    @ivar filelike: the wrapped object; it has C{read(size)}.
    @ivar blksize: the block size the application asked for, in bytes.
    @type blksize: L{int}
    """

    __slots__ = ("blksize", "filelike")

    def __init__(self, filelike, blksize=8192):
        """
        @param filelike: an object with C{read(size)} returning L{bytes};
            its C{close()}, if any, is called by L{close}.
        @param blksize: bytes per block when the wrapper is iterated (by
            middleware; the server reads larger blocks itself).
        @type blksize: L{int}
        """
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self):
        """
        Yield the file's blocks of C{blksize} bytes until C{read()} returns
        nothing.
        """
        read = self.filelike.read
        blksize = self.blksize
        while True:
            data = read(blksize)
            if not data:
                return
            yield data

    def close(self):
        """
        Close the file, if it can be (PEP 3333: the wrapper's C{close()}
        calls the file-like object's).
        """
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


class WSGIResponse:
    """
    Runs one WSGI application call for one request and delivers its
    response through a bridge.
    """

    __slots__ = (
        "_app",
        "_bridge",
        "_ended",
        "_environ",
        "_headSent",
        "_headers",
        "_method",
        "_path",
        "_status",
    )

    def __init__(self, app, environ, bridge):
        """
        @param app: the WSGI application.
        @param environ: the request's C{environ}.
        @type environ: L{dict}
        @param bridge: the request's hand-off to the reactor.
        @type bridge: L{gracehttp._apps.wsgi.bridge.Bridge}
        """
        self._app = app
        self._environ = environ
        self._bridge = bridge
        # For log messages, taken before the application can change environ.
        self._method = environ["REQUEST_METHOD"]
        self._path = environ["PATH_INFO"]
        self._status = None
        self._headers = None
        self._headSent = False
        self._ended = False

    def graceExpired(self):
        """
        The grace period after the client disconnected ended and the
        application is still running.  A thread cannot be interrupted, so
        this only logs a warning (see L{gracehttp._core.exchange}).  Called once, on
        the reactor thread, by the exchange.
        """
        _log.warn(
            "WSGI request {method} {path} is still running after the "
            "disconnect grace period; a thread cannot be cancelled",
            method=self._method,
            path=self._path,
        )

    def dropped(self):
        """
        The request is dropped: its client disconnected while it waited for
        a thread, so the application is never started.  Logs it.
        """
        _log.info(
            "Dropped WSGI request {method} {path}: the client disconnected "
            "before it started (while it waited for a thread)",
            method=self._method,
            path=self._path,
        )

    def run(self):
        """
        Call the application and send its response.  Runs on a worker
        thread.  A request whose client left while it waited for a thread
        is not started.
        """
        bridge = self._bridge
        if not bridge.begin(self.graceExpired):
            self.dropped()
            return
        try:
            result = self._app(self._environ, self.startResponse)
            close = getattr(result, "close", None)
            try:
                if isinstance(result, FileWrapper):
                    last = self._sendFile(result)
                else:
                    last = self._iterate(result)
                # The client gets the end of the response before close()
                # runs (PEP 3333 only asks that close() is called when the
                # request is over): a slow close(), such as Django closing
                # its database connections, delays no client and does not
                # make a delivered response look abandoned.
                self._complete(last, done=close is None)
            finally:
                if close is not None:
                    close()
            if close is not None:
                bridge.end()
        except BaseException:
            # Whatever happened, the reactor must hear that the application
            # is done; the failure is logged, not re-raised into the pool.
            self._failed(Failure())

    def startResponse(self, status, headers, exc_info=None):
        """
        The C{start_response} callable (PEP 3333, "The start_response()
        Callable").

        @param status: e.g. C{"200 OK"}.
        @type status: L{str}
        @param headers: C{(name, value)} native strings, latin-1.
        @type headers: L{list} of L{tuple}
        @param exc_info: L{sys.exc_info} when replacing the status and
            headers after an error.
        @return: the C{write} callable.
        @raise InvalidResponse: bad status or headers (hop-by-hop fields
            among them), or a second call without C{exc_info}.
        @raise BaseException: C{exc_info}'s exception, re-raised, if the head
            was already sent.
        """
        if exc_info is not None:
            try:
                if self._headSent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self._status is not None:
            raise InvalidResponse("start_response() called again without exc_info (PEP 3333)")
        code = _statusCode(status)
        self._headers = _encodeHeaders(headers)
        self._status = code
        return self.write

    def write(self, data):
        """
        The C{write} callable (PEP 3333, "The write() Callable"): send
        C{data} now, waiting while the client is behind.

        @type data: L{bytes}
        @raise ClientDisconnected: the client is gone.
        @raise TypeError: C{data} is not L{bytes}.
        @raise InvalidResponse: C{start_response} was not called yet.
        """
        _checkBytes(data)
        if data:
            self._bridge.write(self._takeHead(), data)

    def _takeHead(self):
        """
        @return: the head for the bridge if not sent yet, else L{None}.
        @raise InvalidResponse: C{start_response} was not called.
        """
        if self._headSent:
            return None
        if self._status is None:
            raise InvalidResponse("body sent before start_response() (PEP 3333)")
        self._headSent = True
        return (self._status, self._headers)

    def _iterate(self, result):
        """
        Send the response iterable's chunks, stopping before asking for the
        next one once the client is gone.  An iterable whose C{len()} is 1
        (PEP 3333: it must then be accurate) is not written here: its chunk
        goes out with the head and the end of the response in one hand-off.

        @return: the chunk still to send with the end of the response.
        @rtype: L{bytes}
        """
        length = getattr(type(result), "__len__", None)
        single = length is not None and length(result) == 1
        bridge = self._bridge
        for chunk in result:
            if single:
                _checkBytes(chunk)
                return chunk
            self.write(chunk)
            if bridge.disconnected:
                break
        return b""

    def _sendFile(self, wrapper):
        """
        Send a L{FileWrapper}'s file, read in blocks of at least
        L{FILE_BLOCK} bytes, stopping once the client is gone.

        @type wrapper: L{FileWrapper}
        @return: C{b""} (everything is written here).
        @raise TypeError: the file's C{read()} returned something not
            L{bytes}.
        """
        read = wrapper.filelike.read
        size = max(wrapper.blksize, FILE_BLOCK)
        bridge = self._bridge
        while not bridge.disconnected:
            data = read(size)
            if not data:
                break
            self.write(data)
        return b""

    def _complete(self, last, done):
        """
        The application's iterable is exhausted: end the response.

        @param last: body bytes not sent yet.
        @type last: L{bytes}
        @param done: the application is finished too (it has no C{close()}
            to call).
        @type done: L{bool}
        @raise InvalidResponse: C{start_response} was never called.
        """
        bridge = self._bridge
        if bridge.disconnected:
            bridge.end(done=done)
        else:
            head = None if self._headSent else self._takeHead()
            self._ended = True
            bridge.end(head, last, FINISH, done)

    def _failed(self, failure):
        """
        The application, its iterable or its C{close()} raised: answer 500 if
        the head is not sent, else abort the response (the client must not
        take it for complete).  L{ClientDisconnected} after a disconnect is
        the expected end of an abandoned request and is not logged.

        @type failure: L{Failure}
        """
        bridge = self._bridge
        if bridge.disconnected and failure.check(ClientDisconnected):
            bridge.end()
            return
        _log.failure(
            "WSGI application raised an exception for {method} {path}",
            failure,
            LogLevel.error,
            method=self._method,
            path=self._path,
        )
        if bridge.disconnected or self._ended:
            # Nothing more to send: the client is gone, or the response was
            # complete when close() raised.
            bridge.end()
        elif self._headSent:
            bridge.end(None, b"", ABORT)
        else:
            bridge.end(_ERROR_HEAD, SERVER_ERROR_BODY, FINISH)


class SpooledResponse(WSGIResponse):
    """
    A L{WSGIResponse} whose request body was spooled
    (L{gracehttp._apps.wsgi.spool}): the spool is closed when the request ends,
    whether the application ran or was dropped.
    """

    __slots__ = ("_spool",)

    def __init__(self, app, environ, bridge, spool):
        """
        @param spool: the request body, read through C{wsgi.input}.
        @type spool: L{gracehttp._apps.wsgi.spool.BodySpool}
        """
        super().__init__(app, environ, bridge)
        self._spool = spool

    def dropped(self):
        """
        Log the drop and close the spool.
        """
        try:
            super().dropped()
        finally:
            self._spool.close()

    def run(self):
        """
        Run the application, then close the spool (worker thread).
        """
        try:
            super().run()
        finally:
            self._spool.close()
