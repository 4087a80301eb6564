"""
An HTTP/2 client driven by hand, for tests: C{h2}'s client state machine
(validating nothing, so that tests can send what a real client would not)
with helpers to send requests, raw frames and floods, over any byte pipe:
a server protocol on a L{StringTransport} (L{LoopbackPeer}) or a socket
(L{SocketPeer}).

The server's C{GOAWAY} frames are taken out before C{h2} sees them and
kept (L{Peer.goAways}): C{h2}'s state machine accepts no frame after a
C{GOAWAY}, where a client must go on receiving the streams the C{GOAWAY}
lets finish (RFC 9113 section 6.8).
"""

import socket
import ssl

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, StreamEnded, StreamReset
from h2.settings import SettingCodes
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def clientMachine():
    """
    A client-side C{h2} state machine that checks nothing it sends, its
    preface and settings prepared.

    @rtype: L{H2Connection}
    """
    config = H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    client = H2Connection(config)
    client.initiate_connection()
    return client


def request(method=b"GET", path=b"/", authority=b"example", headers=(), scheme=b"https"):
    """
    A request's header list, pseudo-header fields first.
    """
    return [
        (b":method", method),
        (b":scheme", scheme),
        (b":authority", authority),
        (b":path", path),
        *headers,
    ]


class Peer:
    """
    The client side of an HTTP/2 connection.  Subclasses say how bytes
    move (L{_write}, L{_read}).

    @ivar client: the client's C{h2} state machine.
    @ivar events: every event received so far, in order.
    @ivar goAways: the server's C{GOAWAY} frames so far.
    """

    def __init__(self):
        self.client = clientMachine()
        self.events = []
        self.goAways = []
        self._pending = b""

    def ignoreStreamLimit(self):
        """
        Open streams past the server's C{SETTINGS_MAX_CONCURRENT_STREAMS},
        as a client that ignores it would.
        """
        settings = self.client.remote_settings
        settings[SettingCodes.MAX_CONCURRENT_STREAMS] = 2**31 - 1
        settings.acknowledge()

    def openWindows(self, size=2**30):
        """
        Let the server send C{size} bytes on the connection and on each
        stream before it waits for a C{WINDOW_UPDATE}.
        """
        self.client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
        self.client.increment_flow_control_window(size)
        self.flush()

    def _split(self, data):
        """
        Take the server's C{GOAWAY} frames out of C{data} (kept in
        L{goAways}); return the rest, whole frames only.
        """
        data = self._pending + data
        kept = []
        pos = 0
        while len(data) - pos >= 9:
            frame, length = Frame.parse_frame_header(memoryview(data[pos : pos + 9]))
            end = pos + 9 + length
            if end > len(data):
                break
            if isinstance(frame, GoAwayFrame):
                frame.parse_body(memoryview(data[pos + 9 : end]))
                self.goAways.append(frame)
            else:
                kept.append(data[pos:end])
            pos = end
        self._pending = data[pos:]
        return b"".join(kept)

    def flush(self):
        """
        Send what the client's state machine prepared.
        """
        data = self.client.data_to_send()
        if data:
            self._write(data)

    def receive(self):
        """
        Read what the server sent and feed it to the client.

        @return: the new events.
        @rtype: L{list}
        """
        data = self._split(self._read())
        events = self.client.receive_data(data) if data else []
        self.events.extend(events)
        self.flush()
        return events

    def send(self, fields, body=None, end=True, streamId=None):
        """
        Open a stream with C{fields}, then send C{body} if given.

        @param end: end the stream (with the body, or with the head).
        @return: the stream identifier.
        """
        client = self.client
        if streamId is None:
            streamId = client.get_next_available_stream_id()
        client.send_headers(streamId, fields, end_stream=end and body is None)
        if body is not None:
            self.sendData(streamId, body, end)
        self.flush()
        return streamId

    def sendData(self, streamId, body, end=False):
        """
        Send C{body} on a stream, in frames as large as the server allows.
        """
        client = self.client
        size = client.max_outbound_frame_size
        for start in range(0, max(len(body), 1), size):
            chunk = body[start : start + size]
            client.send_data(streamId, chunk, end_stream=end and start + size >= len(body))
        self.flush()

    def reset(self, streamId, code=8):
        """
        Reset a stream (C{CANCEL} by default).
        """
        self.client.reset_stream(streamId, code)
        self.flush()

    def raw(self, *frames):
        """
        Send frames as they are, bypassing the client's state machine.
        """
        self._write(b"".join(frame.serialize() for frame in frames))

    def responses(self):
        """
        @return: for each stream, its response headers, body and whether
            it ended, from the events so far.
        @rtype: L{dict} of L{int} to L{dict}
        """
        found = {}
        for event in self.events:
            streamId = getattr(event, "stream_id", None)
            if not streamId:
                continue
            entry = found.setdefault(
                streamId, {"headers": [], "body": b"", "ended": False, "reset": None}
            )
            headers = getattr(event, "headers", None)
            if headers is not None:
                entry["headers"].append(dict(headers))
            if isinstance(event, DataReceived):
                entry["body"] += event.data
            elif isinstance(event, StreamEnded):
                entry["ended"] = True
            elif isinstance(event, StreamReset):
                entry["reset"] = event.error_code
        return found

    def goAway(self):
        """
        @return: the server's first C{GOAWAY} frame, or L{None}.
        """
        return self.goAways[0] if self.goAways else None


class ClosingTransport(StringTransport):
    """
    A L{StringTransport} that, as a TLS transport does, sends nothing
    written after C{loseConnection}.
    """

    def write(self, data):
        if not self.disconnecting:
            StringTransport.write(self, data)

    def writeSequence(self, seq):
        self.write(b"".join(seq))


class LoopbackPeer(Peer):
    """
    A client connected to a server protocol through a L{StringTransport}.

    @ivar transport: the server's transport.
    @ivar protocol: the server protocol.
    """

    def __init__(self, protocol, transport=None):
        Peer.__init__(self)
        if transport is None:
            transport = ClosingTransport(
                hostAddress=IPv4Address("TCP", "10.0.0.1", 443),
                peerAddress=IPv4Address("TCP", "192.168.1.1", 54321),
            )
        self.transport = transport
        self.protocol = protocol
        protocol.makeConnection(transport)
        self.flush()
        self.receive()

    def _write(self, data):
        self.protocol.dataReceived(data)

    def _read(self):
        data = self.transport.value()
        self.transport.clear()
        return data


class SocketPeer(Peer):
    """
    A client on a real socket, over TLS (ALPN C{h2}) or cleartext (h2c
    prior knowledge).

    @ivar sock: the socket.
    """

    def __init__(self, port, context=None, timeout=10.0, prefix=b""):
        """
        @param context: a client TLS context that trusts the server (its
            ALPN is set to C{h2}), or L{None} for cleartext.
        @param prefix: bytes sent first, before TLS (a PROXY protocol
            header).
        """
        Peer.__init__(self)
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if prefix:
            sock.sendall(prefix)
        if context is not None:
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
            assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
        self.sock = sock
        self.closed = False
        self.flush()

    def _write(self, data):
        self.sock.sendall(data)

    def _read(self):
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
        return data

    def waitFor(self, condition, limit=10000):
        """
        Read until C{condition()} is true or the server closes (every read
        is bounded by the socket's timeout).

        @return: C{condition()}'s last value.
        """
        for _ in range(limit):
            result = condition()
            if result or self.closed:
                return result
            self.receive()
        raise AssertionError("condition not met")

    def close(self):
        self.sock.close()


def settingsFrame(settings=None):
    """
    A C{SETTINGS} frame with C{settings} (a L{dict} of setting codes to
    values).
    """
    frame = SettingsFrame(0)
    frame.settings.update(settings or {})
    return frame


__all__ = [
    "PREFACE",
    "ContinuationFrame",
    "DataFrame",
    "HeadersFrame",
    "LoopbackPeer",
    "PingFrame",
    "RstStreamFrame",
    "SettingsFrame",
    "SocketPeer",
    "clientMachine",
    "request",
    "settingsFrame",
]
