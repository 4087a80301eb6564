"""
C{wsgi.input} (PEP 3333, "Input and Error Streams"): a file-like reader over
the request body as it streams in.

The stream holds at most the chunk it is working through; it gets the next
one from a C{fill} callable: L{gracehttp._apps.wsgi.bridge.Bridge.readChunk},
which blocks the application's thread until the reactor has body bytes for
it, or, for a spooled chunked body, L{gracehttp._apps.wsgi.spool.spooledInput},
which reads the spool.  Only the application's own C{read()} (no size) or a long line can make
it hold more, and then only because the application asked for it.
"""

_ALL = -1


class WSGIInput:
    """
    The request body as a binary file-like object, read from a worker
    thread.

    It reports end-of-file at the end of the body (its C{Content-Length},
    or the last chunk of a chunked body).  If the client disconnects first,
    every read raises L{ClientDisconnected<gracehttp._errors.ClientDisconnected>}:
    a truncated body is never passed off as a complete one.
    """

    __slots__ = ("_buffer", "_fill", "_position")

    def __init__(self, fill):
        """
        @param fill: returns the next body bytes, blocking until there are
            some; C{b""} at the end of the body.  Raises
            L{ClientDisconnected<gracehttp._errors.ClientDisconnected>}.
        @type fill: zero-argument callable returning L{bytes}
        """
        self._fill = fill
        self._buffer = b""
        self._position = 0

    def read(self, size=_ALL):
        """
        Read up to C{size} bytes: fewer only at the end of the body.

        @param size: bytes wanted; negative or L{None} reads to the end.
        @type size: L{int} or L{None}
        @rtype: L{bytes}
        @raise ClientDisconnected: the client is gone.
        """
        buffer = self._buffer
        position = self._position
        if size is None or size < 0:
            parts = [buffer[position:]]
            self._buffer = b""
            self._position = 0
            fill = self._fill
            while True:
                data = fill()
                if not data:
                    return b"".join(parts)
                parts.append(data)
        end = position + size
        if end <= len(buffer):
            self._position = end
            return buffer[position:end]
        parts = [buffer[position:]]
        needed = end - len(buffer)
        fill = self._fill
        while True:
            data = fill()
            if not data:
                self._buffer = b""
                self._position = 0
                break
            if len(data) >= needed:
                parts.append(data[:needed])
                self._buffer = data
                self._position = needed
                break
            parts.append(data)
            needed -= len(data)
        return b"".join(parts)

    def readline(self, size=_ALL):
        """
        Read one line, up to and including C{b"\\n"}.

        @param size: at most this many bytes; negative or L{None} for no
            limit.
        @type size: L{int} or L{None}
        @return: the line; C{b""} at the end of the body.
        @rtype: L{bytes}
        @raise ClientDisconnected: the client is gone.
        """
        remaining = -1 if size is None else size
        parts = []
        while True:
            buffer = self._buffer
            position = self._position
            end = len(buffer)
            if 0 <= remaining < end - position:
                end = position + remaining
            newline = buffer.find(b"\n", position, end)
            if newline >= 0:
                end = newline + 1
            parts.append(buffer[position:end])
            self._position = end
            remaining -= end - position
            if newline >= 0 or remaining == 0:
                break
            data = self._fill()
            if not data:
                break
            self._buffer = data
            self._position = 0
        return b"".join(parts)

    def readlines(self, hint=_ALL):
        """
        Read lines until the end of the body, or until they add up to more
        than C{hint} bytes (as L{io.IOBase.readlines}).

        @param hint: negative, zero or L{None} for no limit.
        @type hint: L{int} or L{None}
        @rtype: L{list} of L{bytes}
        @raise ClientDisconnected: the client is gone.
        """
        limit = hint if hint is not None and hint > 0 else -1
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < limit < total:
                return lines

    def __iter__(self):
        """
        Iterate over the lines of the body.

        @raise ClientDisconnected: the client is gone.
        """
        readline = self.readline
        while True:
            line = readline()
            if not line:
                return
            yield line
