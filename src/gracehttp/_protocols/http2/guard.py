"""
The frame guard of an HTTP/2 connection: what a client sends is walked
frame by frame before C{h2} parses it, and a client that floods the
connection is answered with C{GOAWAY} (C{ENHANCE_YOUR_CALM}) and cut off.

Theory of operation
===================

Every frame starts with a 9-byte header giving its payload length, type
and flags (RFC 9113 section 4.1).  L{FrameGuard.scan} reads only those
headers (the payloads are skipped, across reads) and counts what costs
the server work without giving the client anything, so each rule is
checked on the bytes before C{h2} spends time on them:

  - stream resets (C{RST_STREAM}, CVE-2023-44487 "rapid reset"): a
    client that opens streams and resets them at once makes the server
    start applications it never waits for.  Resets, and the streams the
    server itself refuses (L{FrameGuard.refused}), draw on a token bucket
    of L{RESET_BURST} times C{maxStreams} tokens, refilled at
    L{RESET_RATE} times C{maxStreams} per second.  (The streams whose
    application still runs are bounded apart from this, by
    C{maxStreams}: the connection refuses a stream past it.)
  - frames that ask for work and carry nothing (C{PING}, C{SETTINGS},
    C{PRIORITY}, empty C{DATA} without C{END_STREAM}, empty C{HEADERS}
    or C{CONTINUATION} fragments, frames of unknown type: the 2019
    "ping flood", "settings flood", "empty frames" and "resource loop"
    attacks, CVE-2019-9512/9515/9518/9513) draw on another bucket of
    L{IDLE_BURST} tokens refilled at L{IDLE_RATE} per second.
  - header blocks (a C{HEADERS} frame and its C{CONTINUATION} frames,
    CVE-2024-27316): a block larger than C{blockLimit} bytes is refused
    as soon as its frame headers say so, before it is buffered whole; a
    block in progress is timed by the connection (L{FrameGuard.blockStarted}).

A refill is computed from the clock when tokens are drawn (no timer).
What the guard cannot see in frame headers (the decoded header list size,
content lengths) is C{h2}'s and the connection's to check.
"""

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""
The client connection preface (RFC 9113 section 3.4), which precedes the
first frame.
"""

RESET_BURST = 2
"""
Stream resets (and refused streams) a client may make at once, as a
multiple of the connection's C{maxStreams}: a browser that leaves a page
cancels every stream it had open.
"""

RESET_RATE = 0.25
"""
Stream resets per second a client may make in the long run, as a multiple
of the connection's C{maxStreams} (25 per second for 100).
"""

IDLE_BURST = 1000
"""
Frames that carry nothing (see the module docstring) a client may send at
once.
"""

IDLE_RATE = 100.0
"""
Frames that carry nothing a client may send per second in the long run.
"""

_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _SETTINGS = 0, 1, 2, 3, 4
_PING, _CONTINUATION = 6, 9
_END_STREAM, _ACK, _END_HEADERS = 0x1, 0x1, 0x4


class TokenBucket:
    """
    Tokens refilled at a steady rate up to a burst: a rate limit that
    allows bursts.

    @ivar tokens: the tokens left.
    @type tokens: L{float}
    """

    __slots__ = ("_burst", "_last", "_rate", "tokens")

    def __init__(self, burst, rate, now):
        """
        @param burst: the most tokens held (and held at first).
        @type burst: L{float}
        @param rate: tokens added per second.
        @type rate: L{float}
        @param now: the clock's seconds.
        """
        self._burst = burst
        self._rate = rate
        self._last = now
        self.tokens = burst

    def take(self, count, now):
        """
        Draw C{count} tokens.

        @param now: the clock's seconds.
        @return: whether there were enough (the tokens are drawn anyway:
            a client over the limit stays over it until it slows down).
        @rtype: L{bool}
        """
        tokens = self.tokens + (now - self._last) * self._rate
        self._last = now
        if tokens > self._burst:
            tokens = self._burst
        tokens -= count
        self.tokens = tokens
        return tokens >= 0


class FrameGuard:
    """
    Walks a client's frames, counting what the module docstring names.

    @ivar blockStarted: when the header block in progress began (the
        clock's seconds), or L{None} if no block is in progress.
    """

    __slots__ = (
        "_blockLimit",
        "_blockSize",
        "_head",
        "_idle",
        "_preface",
        "_resets",
        "_skip",
        "blockStarted",
    )

    def __init__(self, now, maxStreams, blockLimit):
        """
        @param now: the clock's seconds.
        @param maxStreams: the connection's concurrent stream limit.
        @type maxStreams: L{int}
        @param blockLimit: the largest header block accepted, in bytes
            (HPACK-encoded, all its frames' payloads together).
        @type blockLimit: L{int}
        """
        self._preface = len(PREFACE)
        self._head = b""
        self._skip = 0
        self._blockSize = -1
        self._blockLimit = blockLimit
        self.blockStarted = None
        self._resets = TokenBucket(RESET_BURST * maxStreams, RESET_RATE * maxStreams, now)
        self._idle = TokenBucket(IDLE_BURST, IDLE_RATE, now)

    def refused(self, now):
        """
        The connection refused a stream (C{REFUSED_STREAM}): it counts as a
        reset.

        @return: whether the client is still within its bound.
        @rtype: L{bool}
        """
        return self._resets.take(1, now)

    def scan(self, data, now):
        """
        Walk the frame headers in C{data}, the next bytes the client sent.

        @type data: L{bytes}
        @param now: the clock's seconds.
        @return: L{None} if the client is within every bound, else what it
            exceeded, in a few words (the C{GOAWAY}'s debug data).
        @rtype: L{bytes} or L{None}
        """
        pos = 0
        size = len(data)
        if self._preface:
            pos = min(self._preface, size)
            self._preface -= pos
        skip = self._skip
        if skip:
            if skip > size - pos:
                self._skip = skip - (size - pos)
                return None
            pos += skip
            self._skip = 0
        if self._head:
            # A frame header split across reads.
            data = self._head + data[pos:]
            size = len(data)
            pos = 0
            self._head = b""
        resets = idle = 0
        blockSize = self._blockSize
        while pos + 9 <= size:
            length = (data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2]
            kind = data[pos + 3]
            flags = data[pos + 4]
            pos += 9 + length
            if kind == _DATA:
                if not length and not flags & _END_STREAM:
                    idle += 1
            elif kind == _HEADERS or kind == _CONTINUATION:
                if kind == _HEADERS:
                    blockSize = 0
                blockSize += length
                if blockSize > self._blockLimit:
                    return b"header block too large"
                if flags & _END_HEADERS:
                    blockSize = -1
                elif not length:
                    idle += 1
            elif kind == _RST_STREAM:
                resets += 1
            elif kind == _PRIORITY or kind > _CONTINUATION:
                idle += 1
            elif (kind == _SETTINGS and not flags & _ACK) or kind == _PING:
                idle += 1
        if pos > size:
            self._skip = pos - size
        elif pos < size:
            self._head = data[pos:]
        return self._account(blockSize, resets, idle, now)

    def _account(self, blockSize, resets, idle, now):
        """
        Note where the header block stands and draw the counted tokens.

        @return: see L{scan}.
        """
        if blockSize < 0:
            self.blockStarted = None
        elif self._blockSize < 0:
            self.blockStarted = now
        self._blockSize = blockSize
        if resets and not self._resets.take(resets, now):
            return b"too many stream resets"
        if idle and not self._idle.take(idle, now):
            return b"too many frames without content"
        return None
