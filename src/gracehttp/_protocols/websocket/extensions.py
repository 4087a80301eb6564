"""
The message size limit and permessage-deflate (RFC 7692) on wsproto's
extension hooks.

Theory of operation
===================

wsproto parses frames as they arrive and hands each extension every
frame's header (C{frame_inbound_header}), each piece of its payload
(C{frame_inbound_payload_data}) and its end (C{frame_inbound_complete}),
in the order the extensions are listed; an extension that returns a
L{CloseReason} there fails the connection with that close code.  wsproto
itself has no size limit, so the limit is an extension of our own,
L{MessageLimit}, listed last, after permessage-deflate: it sees each
message's payload as the application will (decompressed) and counts it.

  - A message over C{maxSize} bytes (text counted as UTF-8) is refused
    with close code 1009 (message too big, RFC 6455 section 7.4.1) as soon
    as it is known to be over: at the header of an uncompressed frame
    whose length would pass the limit (nothing of it is read), or at the
    piece of payload that passes it.  Only what arrived in one read of
    the socket is held beyond the limit.
  - A compressed message is bounded as it is decompressed
    (L{BoundedDeflate}): each piece of payload is decompressed into at
    most C{maxSize + 1} bytes, and a piece that would give more is refused
    with 1009 without decompressing the rest.  A small compressed message
    (deflate expands up to about 1,000 times) thus never costs more than
    the limit in memory, whatever it would expand to.

L{negotiate} answers a client's extension offers (RFC 6455 section 9.1):
the first permessage-deflate offer whose parameters wsproto accepts (RFC
7692 section 5: the server picks one offer), when it is on; the limit
always.
"""

import zlib

from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, Opcode, RsvBits

_NO_BITS = RsvBits(False, False, False)


class MessageLimit(Extension):
    """
    Refuses messages over a size (close code 1009).  Never negotiated: it
    is an extension only in that it uses wsproto's hooks.

    @ivar limit: the largest message, in bytes.
    @type limit: L{int}
    @ivar _size: payload bytes of the current message so far.
    @ivar _compressed: the current message is compressed (its first
        frame's RSV1, RFC 7692 section 6): its frame lengths say nothing
        of its size.
    @ivar _control: the current frame is a control frame (interleaved in
        a message, and not part of it).
    """

    name = "gracehttp-message-limit"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._size = 0
        self._compressed = False
        self._control = False

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(self, proto, opcode, rsv, payload_length):
        control = opcode.iscontrol()
        self._control = control
        if not control:
            if opcode is not Opcode.CONTINUATION:
                self._size = 0
                self._compressed = rsv.rsv1
            if not self._compressed and self._size + payload_length > self.limit:
                return CloseReason.MESSAGE_TOO_BIG
        return _NO_BITS

    def frame_inbound_payload_data(self, proto, data):
        if not self._control:
            self._size += len(data)
            if self._size > self.limit:
                return CloseReason.MESSAGE_TOO_BIG
        return data


class BoundedDeflate(PerMessageDeflate):
    """
    wsproto's permessage-deflate, whose decompression of a piece of payload
    stops past C{limit} bytes (close code 1009) instead of expanding it
    whole.

    (It reads the decompression state wsproto's L{PerMessageDeflate}
    keeps: C{_decompressor}, C{_inbound_compressed},
    C{_inbound_is_compressible}; the decompression-bomb test fails if a
    wsproto release changes them.)
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def frame_inbound_payload_data(self, proto, data):
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        decompressor = self._decompressor
        assert decompressor is not None
        try:
            output = decompressor.decompress(data, self._limit + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        if len(output) > self._limit:
            return CloseReason.MESSAGE_TOO_BIG
        return output


def negotiate(offers, deflate, maxSize):
    """
    Answer a client's extension offers.

    @param offers: the C{Sec-WebSocket-Extensions} offers, in order.
    @type offers: L{list} of L{str}
    @param deflate: whether permessage-deflate may be accepted.
    @type deflate: L{bool}
    @param maxSize: the message size limit, in bytes.
    @type maxSize: L{int}
    @return: the extensions for wsproto's connection (the accepted ones,
        then the limit), the permessage-deflate extension if accepted (it
        compresses what we send) or L{None}, and the
        C{Sec-WebSocket-Extensions} response value or L{None}.
    @rtype: L{tuple} of (L{list} of L{Extension}, L{BoundedDeflate} or
        L{None}, L{bytes} or L{None})
    """
    limit = MessageLimit(maxSize)
    if deflate:
        for offer in offers:
            if offer.split(";", 1)[0].strip() != PerMessageDeflate.name:
                continue
            # A fresh one per offer: accept() keeps the parameters it read.
            compression = BoundedDeflate(maxSize)
            parameters = compression.accept(offer)
            if isinstance(parameters, str):
                value = PerMessageDeflate.name.encode("ascii")
                if parameters:
                    value += b"; " + parameters.encode("ascii")
                return [compression, limit], compression, value
    return [limit], None, None
