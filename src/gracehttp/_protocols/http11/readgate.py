"""
The read gate of an HTTP/1.1 connection: whether what the client sends is
parsed now, held unparsed, or left in the kernel.

Theory of operation
===================

Reading pauses for two reasons, counted together: an exchange holds more
than L{BODY_BUFFER_SIZE<gracehttp._core.exchange.BODY_BUFFER_SIZE>} body
bytes its application has not consumed (it resumes when that exchange
reports them consumed, L{ReadGate.bodyConsumed}: the read side is per
exchange, as HTTP/2 flow control is per stream), or too many requests are
queued (L{MAX_PIPELINED<gracehttp._protocols.http11.pipeline.MAX_PIPELINED>}).
An exchange reports what its application consumed only while it stops
parsing (the channel sets its C{reportConsumed}): a report per read would
cost a call per read for nothing.

Pausing stops parsing, not reading: what arrives is held unparsed, and only
past L{HOLD_SIZE} held bytes is the transport paused.  So a client that
sends a little more and closes (the usual way a client gives up on an
upload) is seen closing at once: C{connectionLost} disconnects its
exchange.  Once the transport is paused the kernel keeps what the client
sends, and its close (FIN) is queued behind that data, or behind data still
in the client's own send buffer while our receive window is shut: it is
noticed at the next read (when the application reads on and reading
resumes) or write (the response).  It cannot be noticed earlier without
reading, and reading on means buffering without bound; watching the socket
does not help either (the FIN has not arrived, and a readable socket with
unread data is always readable).

When reading resumes the held bytes are parsed on the next reactor turn
(C{callLater(0)}), never inside the application's read that resumed it, so
that read returns its bytes before newer ones arrive.

Once the connection stops parsing for good (any state but C{OPEN}, see
L{states<gracehttp._protocols.http11.states>}) nothing resumes parsing;
L{ReadGate._readOn} resumes the transport so that the client's close is
read.
"""

from collections import deque

from gracehttp._core.exchange import BODY_BUFFER_SIZE
from gracehttp._protocols.http11.states import OPEN

HOLD_SIZE = 16 * 1024
"""
Bytes read and held, unparsed, while reading is paused, before the
transport itself is paused.  Reading on a little lets a client that sends
the end of its request and closes be noticed (its close arrives as
C{connectionLost}) while the application has not read the buffered body
yet; once more than this is held (plus at most one read) the transport is
paused, and from then on a close is noticed only at the next read or write.
"""


class ReadGate:
    """
    The read gate: a part of L{HTTPChannel
    <gracehttp._protocols.http11.channel.HTTPChannel>}, sharing its
    attributes (it uses the channel's C{transport}, C{_reactor},
    C{_state}, C{_feed} and C{_rearm}).

    @ivar _readPauses: how many reasons to stop parsing hold now (a full
        exchange each, one for a full pipeline).
    @type _readPauses: L{int}
    @ivar _full: the exchanges whose unconsumed body bytes stopped parsing.
    @type _full: L{set} of L{Exchange<gracehttp._core.exchange.Exchange>}
    @ivar _held: the reads kept unparsed while parsing is stopped, in
        order.
    @type _held: L{deque} of L{bytes}
    @ivar _heldSize: their total size, in bytes.
    @ivar _transportPaused: we paused the transport (past L{HOLD_SIZE}
        held bytes).
    @ivar _releaseCall: the call that parses the held bytes on the next
        reactor turn, or L{None}.
    @type _releaseCall: L{IDelayedCall<twisted.internet.interfaces.IDelayedCall>}
    """

    def _initReadGate(self):
        self._readPauses = 0
        self._full = set()
        self._held = deque()
        self._heldSize = 0
        self._transportPaused = False
        self._releaseCall = None

    # -- IExchangeChannel ------------------------------------------------------

    def bodyConsumed(self, exchange, size):
        full = self._full
        if full and exchange in full and exchange.bufferedBody <= BODY_BUFFER_SIZE:
            full.discard(exchange)
            exchange.reportConsumed = False
            self._resumeReading()

    # -- pausing and resuming --------------------------------------------------

    def _bodyFull(self, exchange):
        """
        C{exchange} holds more than L{BODY_BUFFER_SIZE} unconsumed body
        bytes: stop parsing until its application consumed them
        (L{bodyConsumed}, which it reports from now on).
        """
        full = self._full
        if exchange not in full:
            full.add(exchange)
            exchange.reportConsumed = True
            self._pauseReading()

    def _pauseReading(self):
        self._readPauses += 1

    def _resumeReading(self):
        self._readPauses -= 1
        if self._readPauses or self._state is not OPEN:
            return
        if self._held:
            # Not now: this is called back from inside an adapter's read,
            # which must return its bytes before newer ones are parsed.
            if self._releaseCall is None:
                self._releaseCall = self._reactor.callLater(0, self._release)
        else:
            self._rearm()

    def _hold(self, data):
        """
        Keep C{data} unparsed while parsing is stopped; pause the transport
        past L{HOLD_SIZE} held bytes.
        """
        self._held.append(data)
        self._heldSize += len(data)
        if self._heldSize > HOLD_SIZE and not self._transportPaused:
            self._transportPaused = True
            self.transport.pauseProducing()

    def _release(self):
        """
        Parse what was held while reading was paused, in order, until
        reading pauses again; resume the transport once little is held.
        """
        self._releaseCall = None
        held = self._held
        while held and not self._readPauses and self._state is OPEN:
            data = held.popleft()
            self._heldSize -= len(data)
            self._feed(data)
        if self._state is not OPEN:
            return
        if self._transportPaused and self._heldSize <= HOLD_SIZE:
            self._transportPaused = False
            self.transport.resumeProducing()
        if not self._readPauses:
            self._rearm()

    def _takeHeld(self):
        """
        Stop holding: forget the release, and hand back what was held.

        @return: the held bytes, in order.
        @rtype: L{bytes}
        """
        release = self._releaseCall
        if release is not None:
            self._releaseCall = None
            release.cancel()
        held = b"".join(self._held)
        self._held.clear()
        self._heldSize = 0
        return held

    def _readOn(self):
        """
        Resume the transport if L{_hold} paused it.  Once the connection
        parses no more (L{dataReceived
        <gracehttp._protocols.http11.channel.HTTPChannel.dataReceived>}
        discards), reading costs no memory, and it is how a close is seen:
        the client's FIN, or over TLS its C{close_notify}, without which the
        TLS layer never closes the socket.
        """
        if self._transportPaused:
            self._transportPaused = False
            self.transport.resumeProducing()
