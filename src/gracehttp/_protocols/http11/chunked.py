"""
Reading one chunked request body (RFC 9112 section 7.1).

Theory of operation
===================

Chunk extensions are why a chunked body is not left to the connection's
parser: llhttp refuses the whitespace RFC 9112 section 7.1.1 allows around
C{;} and C{=} and accepts an empty name or value, and C{httptools} offers no
extension callbacks and no leniency that would not also accept a size
followed by spaces.  So a chunked body never reaches the connection's
parser: its request's C{on_headers_complete} stops llhttp at the end of
the head, and a L{ChunkedBodyReader} gives the body to a parser of its own
(started with a fixed head, L{_CHUNKED_HEAD}), each chunk-size line checked
first (L{chunkSize<gracehttp._protocols.syntax.chunkSize>}) and given
without its extensions (a line without any goes as it is: llhttp checks
it).  What needs no change (chunk data, lines without extensions) goes to
the parser as it is, one piece per read.  That parser checks the rest
(sizes, the CRLF after each chunk, trailer fields) and calls the channel's
callbacks; after the trailer section the channel's new parser takes the
requests that follow.  A line over L{CHUNK_LINE_LIMIT
<gracehttp._protocols.syntax.CHUNK_LINE_LIMIT>} bytes is a 400.  Requests
without a chunked body never take this path.
"""

import httptools
from twisted.logger import Logger

from gracehttp._protocols.http11.states import OPEN
from gracehttp._protocols.syntax import CHUNK_LINE_LIMIT, chunkSize, headEnd

_log = Logger()

_CHUNKED_HEAD = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
"""
What a chunked body's own parser is given before the body.
"""


class ChunkedBodyReader:
    """
    Reads one chunked request body for a channel, from the end of its head
    to the end of its trailer section; it is also its parser's protocol
    (the body's bytes, trailer fields and end go to the channel's
    callbacks).

    @ivar _channel: the connection.
    @type _channel: L{HTTPChannel<gracehttp._protocols.http11.channel.HTTPChannel>}
    @ivar _parser: the parser of this body.
    @type _parser: L{httptools.HttpRequestParser}
    @ivar _inBody: the parser is past L{_CHUNKED_HEAD}: its fields now are
        the body's trailer fields.
    @ivar _chunkLeft: the bytes of the chunk under way and its CRLF still
        to come; 0 at a chunk-size line; -1 in the trailer section.
    @ivar _chunkLine: the chunk-size line so far, while it spans reads.
    @ivar _trailerTail: the last (up to three) bytes of the trailer section
        so far, to find its end across reads.
    """

    __slots__ = (
        "_channel",
        "_chunkLeft",
        "_chunkLine",
        "_inBody",
        "_parser",
        "_trailerTail",
        "on_body",
        "on_message_complete",
    )

    def __init__(self, channel):
        """
        @type channel: L{HTTPChannel<gracehttp._protocols.http11.channel.HTTPChannel>}
        """
        self._channel = channel
        self._inBody = False
        self._chunkLeft = 0
        self._chunkLine = b""
        self._trailerTail = b""
        self.on_body = channel.on_body
        self.on_message_complete = channel.on_message_complete
        parser = httptools.HttpRequestParser(self)
        parser.feed_data(_CHUNKED_HEAD)
        self._parser = parser

    # -- the parser's callbacks ---------------------------------------------------

    def on_headers_complete(self):
        self._inBody = True

    def on_header(self, name, value):
        if self._inBody:
            self._channel.on_header(name, value)

    # -- reading -------------------------------------------------------------------

    def feed(self, data):
        """
        Give the body's bytes in C{data} to the parser, each chunk-size
        line checked here and given without its extensions; answer 400 for
        a bad line.  Once the body ended, the channel's parser takes the
        reads again.

        @return: the bytes after the body's end (the trailer section's
            empty line), to be parsed as requests; or L{None}.
        @rtype: L{bytes} or L{None}
        """
        channel = self._channel
        parser = self._parser
        view = memoryview(data)
        size = len(data)
        # data[start:pos] goes to the parser as it is.
        pos = start = 0
        try:
            while pos < size:
                left = self._chunkLeft
                if left > 0:
                    # Chunk data and its CRLF, checked by the parser.
                    count = min(left, size - pos)
                    pos += count
                    self._chunkLeft = left - count
                elif left == 0:
                    end, line = self._sizeLine(data, pos)
                    if channel._state is not OPEN:
                        return None
                    if line is not None:
                        # Given in place of data[pos:end].
                        if start < pos:
                            parser.feed_data(view[start:pos])
                        if line:
                            parser.feed_data(line)
                        start = end
                    pos = end
                else:
                    break
            if start < pos:
                parser.feed_data(view[start:pos])
            if pos < size and channel._state is OPEN:
                return self._trailers(data, pos)
        except httptools.HttpParserError as e:
            if channel._state is OPEN:
                channel._parseFailed(e)
        return None

    def _sizeLine(self, data, pos):
        """
        Read the chunk-size line at C{pos}, which may have begun in an
        earlier read.  A line in one piece without extensions stays where
        it is: the parser checks it.

        @return: where the chunk's data begins (or C{len(data)} if the line
            does not end in C{data}), and what to give the parser in place
            of the line: L{None} for the line as it is.
        @rtype: L{tuple} of (L{int}, L{bytes} or L{None})
        """
        newline = data.find(b"\n", pos)
        if newline < 0:
            line = self._chunkLine + data[pos:]
            if len(line) > CHUNK_LINE_LIMIT:
                self._badLine(line)
            self._chunkLine = line
            return len(data), b""
        end = newline + 1
        began = self._chunkLine
        line = began + data[pos:end] if began else data[pos:end]
        self._chunkLine = b""
        if len(line) > CHUNK_LINE_LIMIT:
            self._badLine(line)
            return end, None
        try:
            # Python reads what the parser may refuse ("+5", "5 "): the
            # parser sees the line before anything relies on this length.
            length = int(line, 16)
            replacement = line if began else None
        except ValueError:
            digits = chunkSize(line)
            if digits is None:
                self._badLine(line)
                return end, None
            length = int(digits, 16)
            replacement = digits + b"\r\n"
        if length:
            self._chunkLeft = length + 2
        else:
            # The last chunk: the trailer section follows the line's CRLF.
            self._chunkLeft = -1
            self._trailerTail = b"\r\n"
        return end, replacement

    def _badLine(self, line):
        channel = self._channel
        _log.info(
            "Bad request from {client}: chunk-size line {line!r}",
            client=channel._client,
            line=line[:80],
        )
        channel._reject(400)

    def _trailers(self, data, pos):
        """
        Give the trailer section at C{pos} to the parser, up to its empty
        line, which ends the body.

        @return: the bytes after the body, or L{None} if it has not ended.
        @rtype: L{bytes} or L{None}
        """
        parser = self._parser
        end = headEnd(self._trailerTail, data, pos)
        if end < 0:
            parser.feed_data(memoryview(data)[pos:])
            self._trailerTail = (self._trailerTail + data[max(pos, len(data) - 3) :])[-3:]
            return None
        parser.feed_data(memoryview(data)[pos:end])
        channel = self._channel
        if channel._parsing is not None:
            # The parser did not see the end of the body there.
            channel._reject(400)
            return None
        channel._divert = None
        return data[end:]
