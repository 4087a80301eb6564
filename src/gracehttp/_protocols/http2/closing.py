"""
How an HTTP/2 connection ends: a graceful stop, a connection error, the
client's C{GOAWAY}, an idle connection, and the bounded close.

Theory of operation
===================

One L{Closer} per L{HTTP2Connection
<gracehttp._protocols.http2.connection.HTTP2Connection>}, made with it.
Everything that ends the connection goes through it; it keeps what only
the end needs (whether C{GOAWAY} was sent for a stop, the close timer),
and sets the connection's C{_closing} flag, which the data path reads.

A client's C{GOAWAY} ends the connection: C{h2} sends nothing after it,
so every stream is disconnected (L{Closer.clientGoingAway}).  So does the
connection's loss (L{Closer.connectionLost}), with the C{shutdown}
outcome if a graceful stop cut it.

Connection errors: a read C{h2} refuses (a protocol error) or the guard
refuses (a flood) ends the connection with C{GOAWAY} (the error code, and
the reason as debug data); every stream's exchange is disconnected with
the C{rejected} outcome (L{Closer.connectionError},
L{Closer.protocolError}).

Graceful stop (L{IConnection<gracehttp._core.serverstate.IConnection>}):
L{Closer.stopKeepAlive} sends C{GOAWAY} (C{NO_ERROR}) with the last
stream the client opened; streams opened after it are refused, the others
run to their end, then the connection closes.  A connection that has
opened no stream yet waits for its first (bounded by the head timeout),
which is served before the C{GOAWAY}.  L{Closer.abortForShutdown} cuts
it: every stream is disconnected with the C{shutdown} outcome, then gets
the grace period.

Closing (L{Closer.close}): the transport's C{loseConnection}, then, once
what is left to send fits in its buffer, C{timeoutClose} seconds before
the connection is aborted (a client that never reads the rest, or never
answers TLS's C{close_notify}).  Nothing is read any more.
"""

from hyperframe.frame import GoAwayFrame
from twisted.logger import Logger

from gracehttp._core.exchange import CLIENT_DISCONNECTED, REJECTED, SHUTDOWN
from gracehttp._protocols.http2.sending import NO_ERROR

_log = Logger()


class Closer:
    """
    The end of one HTTP/2 connection (see the module docstring).  It
    reads its connection's C{_closing} and C{_lost} flags and sets
    C{_closing}.

    @ivar goingAway: C{GOAWAY} was sent for a graceful stop: new streams
        are refused, and the last one to leave closes the connection.
    @ivar stopAfterFirst: a graceful stop came before the first stream:
        it goes on once that stream is opened.
    @ivar shutdown: a graceful stop cut the connection.
    @ivar _timer: aborts a close that takes too long, or L{None}.
    """

    __slots__ = ("_connection", "_timer", "goingAway", "shutdown", "stopAfterFirst")

    def __init__(self, connection):
        """
        @param connection: the connection it ends.
        @type connection: L{HTTP2Connection
            <gracehttp._protocols.http2.connection.HTTP2Connection>}
        """
        self._connection = connection
        self.goingAway = False
        self.stopAfterFirst = False
        self.shutdown = False
        self._timer = None

    def stopKeepAlive(self):
        """
        A graceful stop: send C{GOAWAY} (C{NO_ERROR}) with the last stream
        the client opened, refuse later streams, and close once the
        streams in progress are done (now if there are none).  A
        connection that has not opened its first stream yet is not idle:
        it was accepted to be served, so the stop waits for that stream
        (and then goes on as above), bounded by the head timeout that runs
        from the connection, which closes it if none comes.
        """
        connection = self._connection
        if self.goingAway or connection._closing or connection._lost:
            return
        if connection._fresh and not connection._streams:
            self.stopAfterFirst = True
            return
        if not connection._streams:
            self.goAway()
            return
        self.goingAway = True
        connection._flush()
        last = connection._h2.highest_inbound_stream_id
        frame = GoAwayFrame(0, last_stream_id=last, error_code=NO_ERROR)
        connection._writer.write(frame.serialize())

    def abortForShutdown(self):
        """
        Cut the connection at the end of a graceful stop: its streams are
        disconnected with the C{shutdown} outcome, then go through grace
        and cancel.
        """
        self.shutdown = True
        self._connection.transport.abortConnection()

    def goAway(self):
        """
        Close a connection with no stream in progress: C{GOAWAY}
        (C{NO_ERROR}), then close.
        """
        connection = self._connection
        connection._h2.close_connection(error_code=NO_ERROR)
        connection._flush()
        self.close()

    def connectionError(self, code, debug):
        """
        End the connection for what the client did: C{GOAWAY} with C{code}
        and C{debug}, every stream disconnected (C{rejected}), close.

        @param code: the error code (RFC 9113 section 7).
        @param debug: the reason, as the C{GOAWAY}'s debug data.
        @type debug: L{bytes}
        """
        connection = self._connection
        if connection._closing or connection._lost:
            return
        _log.info(
            "HTTP/2 connection from {client} ended: {reason}",
            client=connection._client,
            reason=debug.decode("ascii", "replace"),
        )
        h2 = connection._h2
        h2.close_connection(error_code=code, additional_data=debug)
        connection._writer.write(h2.data_to_send())
        self.close()
        self._disconnectStreams(REJECTED)

    def protocolError(self, error):
        """
        C{h2} refused what the client sent (it prepared the C{GOAWAY}):
        send it, disconnect every stream (C{rejected}), close.

        @param error: what C{h2} raised.
        @type error: L{h2.exceptions.ProtocolError}
        """
        connection = self._connection
        _log.info(
            "HTTP/2 protocol error from {client}: {error}",
            client=connection._client,
            error=error,
        )
        connection._writer.write(connection._h2.data_to_send())
        self.close()
        self._disconnectStreams(REJECTED)

    def clientGoingAway(self):
        """
        The client sent C{GOAWAY}: C{h2} sends nothing after it, so its
        streams are over.
        """
        self.close()
        self._disconnectStreams(CLIENT_DISCONNECTED)

    def _disconnectStreams(self, outcome):
        """
        Disconnect every stream's exchange with C{outcome}, and close the
        stream (the connection is closing).
        """
        connection = self._connection
        for stream in list(connection._streams.values()):
            stream.exchange.disconnect(outcome)
            if not stream.closed:
                connection._streamClosed(stream)

    def close(self):
        """
        Close the connection, once: write what C{h2} prepared, read nothing
        more, let the transport send what it holds, and bound the close
        (L{drained}).
        """
        connection = self._connection
        if connection._closing:
            return
        connection._closing = True
        connection._disarm()
        call = connection._flushCall
        if call is not None:
            connection._flushCall = None
            call.cancel()
        if connection._lost:
            return
        # What h2 prepared (the last stream's end, a GOAWAY) leaves first.
        data = connection._h2.data_to_send()
        if data:
            connection._writer.write(data)
        connection.transport.loseConnection()
        if not connection._writePaused:
            self.drained()

    def drained(self):
        """
        What is left to send fits in the transport's buffer: stop being its
        producer (a TLS transport then sends its C{close_notify}) and abort
        the connection if it is still open C{timeoutClose} seconds later.
        """
        connection = self._connection
        if self._timer is not None or connection._lost:
            return
        connection.transport.unregisterProducer()
        self._timer = connection._reactor.callLater(connection._timeoutClose, self._timedOut)

    def _timedOut(self):
        self._timer = None
        self._connection.transport.abortConnection()

    def connectionLost(self):
        """
        The connection is lost: the close is no longer timed, and every
        stream is closed and its exchange disconnected (C{shutdown} if a
        graceful stop cut the connection, else C{client-disconnected}).
        """
        timer = self._timer
        if timer is not None and timer.active():
            timer.cancel()
        self._timer = None
        outcome = SHUTDOWN if self.shutdown else CLIENT_DISCONNECTED
        streams = self._connection._streams
        for stream in list(streams.values()):
            stream.closed = True
            stream.dropOutbox()
            stream.exchange.disconnect(outcome)
            if stream.appDone:
                streams.pop(stream.streamId, None)
