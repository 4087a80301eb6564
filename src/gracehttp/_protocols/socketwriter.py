"""
Writing a response to a TCP connection's socket at once when nothing is
waiting in front of it.

Why
===

Twisted's C{FileDescriptor.write} never sends: it appends to the
transport's buffer and asks the reactor to watch the socket for
writability; the send happens in C{doWrite} on a later reactor turn, which
then stops watching.  For a small response that is two C{epoll_ctl} calls
and a reactor dispatch (on the asyncio reactor: an C{add_writer} handle and
Twisted's per-call logging context) around one C{send}.  Measured on the
benchmark machine, a raw Twisted protocol on the asyncio reactor answering
C{wrk -c64} does about 28,000 requests/s with C{transport.write} and about
68,000 with a direct send.

What
====

L{SocketWriter} sends straight to the socket only when the transport holds
no unsent bytes and is neither closing nor aborted: exactly the send
C{doWrite} would make next, in the same order.  Whatever the socket does
not take (a full send buffer, or an error) is handed to the transport's own
C{write}, so from then on Twisted's buffering, producer pausing and error
reporting apply unchanged: an error such as C{EPIPE} is met again by
C{doWrite}, which reports the connection lost the usual way.  The
remainder is a copy (the transport takes only L{bytes}), so payloads over
L{DIRECT_LIMIT} always take the transport's path: a large remainder is
never copied.

Only plain TCP and UNIX connections (L{twisted.internet.tcp.Connection}
without C{startTLS}) are written to this way; any other transport (TLS, a
test's C{StringTransport}) is used as it is.  (Half-closing, which the
HTTP channel never does, is not looked at.)  This reads attributes of
C{FileDescriptor} that are not part of C{ITransport} (C{dataBuffer},
C{_tempDataLen}, C{_aborting}, C{socket}); L{writerFor} checks they exist
and falls back to the transport if a Twisted release drops them.
"""

from twisted.internet.tcp import Connection

DIRECT_LIMIT = 1024 * 1024
"""
The largest payload, in bytes, sent straight to the socket; larger ones go
through the transport's buffer.
"""


class SocketWriter:
    """
    C{write} and C{writeSequence} for a L{twisted.internet.tcp.Connection}
    that send at once when nothing is buffered (see the module docstring).

    @ivar transport: the connection.
    """

    __slots__ = ("_send", "_sendmsg", "transport")

    def __init__(self, transport):
        """
        @param transport: a connected TCP or UNIX transport.
        @type transport: L{twisted.internet.tcp.Connection}
        """
        self.transport = transport
        self._send = transport.socket.send
        self._sendmsg = getattr(transport.socket, "sendmsg", None)

    def _idle(self):
        """
        Is nothing waiting to be sent, and may the connection be written to?
        """
        transport = self.transport
        return (
            not transport.dataBuffer
            and not transport._tempDataLen
            and transport.connected
            and not transport.disconnecting
            and not transport._aborting
        )

    def write(self, data):
        """
        Send C{data}, or as much as the socket takes and buffer the rest.

        @type data: L{bytes}
        """
        if len(data) <= DIRECT_LIMIT and self._idle():
            try:
                sent = self._send(data)
            except OSError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        self.transport.write(data)

    def writeSequence(self, sequence):
        """
        Send the concatenation of C{sequence} (a list of L{bytes}), or as
        much as the socket takes and buffer the rest.

        @type sequence: L{list} of L{bytes}
        """
        size = 0
        for data in sequence:
            size += len(data)
        if size > DIRECT_LIMIT or not self._idle():
            self.transport.writeSequence(sequence)
            return
        sendmsg = self._sendmsg
        try:
            if sendmsg is None:
                sent = self._send(b"".join(sequence))
            else:
                sent = sendmsg(sequence)
        except OSError:
            sent = 0
        if sent < size:
            self.transport.write(b"".join(sequence)[sent:])


def writerFor(transport):
    """
    The object a protocol should write its output through.

    @param transport: the protocol's transport.
    @return: a L{SocketWriter} for a plain TCP or UNIX connection, else
        C{transport} itself; either has C{write(bytes)} and
        C{writeSequence(list of bytes)}.
    """
    if (
        isinstance(transport, Connection)
        and not transport.TLS
        and all(
            hasattr(transport, name)
            for name in ("socket", "dataBuffer", "_tempDataLen", "_aborting")
        )
    ):
        return SocketWriter(transport)
    return transport
