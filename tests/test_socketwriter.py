"""
Tests for L{gracehttp._protocols.socketwriter}: a direct send only when Twisted's own
path would make the same send next, in the same order; everything else
through the transport.

The transport is Twisted's real L{twisted.internet.tcp.Server} on a real
loopback TCP socket, driven by a L{MemoryReactorClock}, so "the transport asked
the reactor to watch for writability" is visible as a registered writer and
C{doWrite} is called by hand.
"""

import socket
import time
import unittest

from twisted.internet import unix
from twisted.internet.main import CONNECTION_LOST
from twisted.internet.protocol import Protocol
from twisted.internet.tcp import Server
from twisted.internet.testing import MemoryReactorClock, StringTransport

from gracehttp._protocols.socketwriter import DIRECT_LIMIT, SocketWriter, writerFor


def _connectedPair():
    """
    @return: C{(ours, peer)}, two connected loopback TCP sockets; ours is
        non-blocking, as a reactor's are.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    ours.setblocking(False)
    return ours, peer


def _receive(peer, size):
    """
    Read exactly C{size} bytes from C{peer} (bounded by a timeout).
    """
    peer.settimeout(5)
    chunks = []
    while size:
        chunk = peer.recv(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _pending(peer):
    """
    @return: whatever C{peer} can read right now, without waiting.
    """
    peer.setblocking(False)
    try:
        return peer.recv(1 << 20)
    except BlockingIOError:
        return b""
    finally:
        peer.setblocking(True)


class SocketWriterTests(unittest.TestCase):
    def setUp(self):
        self.ours, self.peer = _connectedPair()
        self.addCleanup(self.peer.close)
        self.reactor = MemoryReactorClock()
        self.transport = Server(self.ours, Protocol(), ("127.0.0.1", 1), None, 1, self.reactor)
        self.transport.connected = True
        self.addCleanup(self.ours.close)
        self.writer = writerFor(self.transport)

    def _flush(self):
        """
        Run the transport's C{doWrite} while it watches for writability,
        reading the peer meanwhile (for at most 5 seconds); return what the
        peer got.
        """
        received = []
        deadline = time.monotonic() + 5
        while self.transport in self.reactor.getWriters() and time.monotonic() < deadline:
            self.assertIsNone(self.transport.doWrite())
            received.append(_pending(self.peer))
        self.assertNotIn(self.transport, self.reactor.getWriters())
        received.append(_pending(self.peer))
        return b"".join(received)

    def test_writerForTCP(self):
        """
        A plain TCP connection is written through a L{SocketWriter}.
        """
        self.assertIsInstance(self.writer, SocketWriter)

    def test_unixSocket(self):
        """
        A UNIX socket connection is written through a L{SocketWriter} too,
        and what is written reaches the peer.
        """
        ours, peer = socket.socketpair()
        self.addCleanup(ours.close)
        self.addCleanup(peer.close)
        ours.setblocking(False)
        transport = unix.Server(ours, Protocol(), b"", None, 1, self.reactor)
        transport.connected = True
        writer = writerFor(transport)
        self.assertIsInstance(writer, SocketWriter)
        writer.writeSequence([b"head\r\n", b"body"])
        self.assertEqual(_receive(peer, 10), b"head\r\nbody")

    def test_writerForOthers(self):
        """
        Any other transport (here a test's L{StringTransport}) is used as it
        is.
        """
        transport = StringTransport()
        self.assertIs(writerFor(transport), transport)

    def test_writerForTLS(self):
        """
        A TCP connection that started TLS is used as it is.
        """
        self.transport.TLS = True
        self.assertIs(writerFor(self.transport), self.transport)

    def test_writeIdle(self):
        """
        With nothing buffered, C{write} sends at once: the peer has the bytes
        and the reactor was never asked to watch the socket.
        """
        self.writer.write(b"hello")
        self.assertEqual(_receive(self.peer, 5), b"hello")
        self.assertNotIn(self.transport, self.reactor.getWriters())
        self.assertEqual(self.transport._tempDataLen, 0)

    def test_writeSequenceIdle(self):
        """
        With nothing buffered, C{writeSequence} sends the concatenation at
        once.
        """
        self.writer.writeSequence([b"head\r\n", b"body"])
        self.assertEqual(_receive(self.peer, 10), b"head\r\nbody")
        self.assertNotIn(self.transport, self.reactor.getWriters())

    def test_behindBufferedBytes(self):
        """
        While the transport holds unsent bytes, a write joins them in the
        transport's buffer: nothing overtakes them.
        """
        self.transport.write(b"first ")
        self.writer.write(b"second ")
        self.writer.writeSequence([b"third", b"!"])
        self.assertEqual(_pending(self.peer), b"")
        self.assertEqual(self._flush(), b"first second third!")

    def test_fullSocket(self):
        """
        What the socket does not take is buffered by the transport, and the
        peer eventually gets every byte in order, including a write made
        while the rest waits.
        """
        self.ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        data = bytes(range(256)) * 400  # 100 KiB, more than the buffers
        self.writer.write(data)
        self.assertIn(self.transport, self.reactor.getWriters())
        # The transport moves its pending bytes to dataBuffer and sends
        # part of them: later writes must still queue behind the rest.
        self.assertIsNone(self.transport.doWrite())
        self.assertTrue(self.transport.dataBuffer)
        # The socket has room again, the transport still holds bytes.
        received = _pending(self.peer)
        self.writer.writeSequence([b"and ", b"more"])
        self.assertEqual(received + self._flush(), data + b"and more")

    def test_fullSocketSequence(self):
        """
        A sequence the socket takes in part is buffered from the first
        byte not sent.
        """
        self.ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        head = b"H" * 100
        body = bytes(range(256)) * 400
        self.writer.writeSequence([head, body])
        self.assertIn(self.transport, self.reactor.getWriters())
        self.assertEqual(self._flush(), head + body)

    def test_overDirectLimit(self):
        """
        A payload over L{DIRECT_LIMIT} takes the transport's path, so a
        large remainder is never copied.
        """
        data = b"x" * (DIRECT_LIMIT + 1)
        self.writer.write(data)
        self.writer.writeSequence([b"y", data])
        self.assertEqual(_pending(self.peer), b"")
        self.assertEqual(self.transport._tempDataLen, 2 * len(data) + 1)

    def test_closing(self):
        """
        After C{loseConnection} nothing is sent directly: the transport's
        path sends what is buffered before it closes.
        """
        self.transport.write(b"x")
        self.transport.loseConnection()
        self.transport.dataBuffer = b""
        self.transport._tempDataBuffer = []
        self.transport._tempDataLen = 0
        self.writer.write(b"late")
        self.assertEqual(_pending(self.peer), b"")
        self.assertEqual(self.transport._tempDataBuffer, [b"late"])

    def test_aborted(self):
        """
        After C{abortConnection} nothing reaches the peer.
        """
        self.transport.abortConnection()
        self.writer.write(b"late")
        self.writer.writeSequence([b"later"])
        self.assertEqual(_pending(self.peer), b"")

    def test_notConnected(self):
        """
        A transport that is not connected any more sends nothing.
        """
        self.transport.connected = False
        self.writer.write(b"late")
        self.assertEqual(_pending(self.peer), b"")
        self.assertEqual(self.transport._tempDataLen, 0)

    def test_sendError(self):
        """
        A send that fails (the peer reset the connection) hands the bytes
        to the transport, whose C{doWrite} then reports the connection
        lost the usual way.
        """
        self.peer.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        self.peer.close()
        self.writer.write(b"x")
        for _ in range(100):
            self.writer.write(b"y")
            if self.transport._tempDataLen:
                break
        self.assertIn(self.transport, self.reactor.getWriters())
        self.assertIs(self.transport.doWrite(), CONNECTION_LOST)
