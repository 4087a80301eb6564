"""
Answering a request whose method llhttp refuses.

Theory of operation
===================

A method llhttp does not know is answered 501 (RFC 9110 sections 9.1 and
15.6.2) if it is a token in a well-formed request line, 400 if it is not
(L{methodStatus<gracehttp._protocols.syntax.methodStatus>}).  llhttp
refuses the method as soon as it cannot be one it knows, before the
request line ends, so a L{RefusedMethodReader} takes the connection's reads
and waits for the line to end, bounded by the head limit (431) and the head
timeout (408, the connection's timer).  llhttp's RTSP methods, refused at
the end of the request line, get 501 too (the channel's C{_parseFailed}).
Either way the connection closes.
"""

from twisted.logger import Logger

from gracehttp._protocols.syntax import methodStatus

_log = Logger()


class RefusedMethodReader:
    """
    Waits for the request line of a request whose method llhttp refused,
    then has the channel answer it.

    @ivar _channel: the connection.
    @type _channel: L{HTTPChannel<gracehttp._protocols.http11.channel.HTTPChannel>}
    @ivar _head: the request's bytes so far, from its first.
    @type _head: L{bytes}
    """

    __slots__ = ("_channel", "_head")

    def __init__(self, channel):
        """
        @type channel: L{HTTPChannel<gracehttp._protocols.http11.channel.HTTPChannel>}
        """
        self._channel = channel
        self._head = b""

    def feed(self, data):
        """
        Add C{data} to the request; answer it once its request line tells
        how.

        @rtype: L{None}
        """
        channel = self._channel
        head = self._head + data
        status = methodStatus(head)
        if status is None:
            if len(head) > channel._limitHeadSize:
                status = 431
            else:
                if channel._headFirstRead < 0:
                    # The head spans reads from here: time it.
                    channel._headFirstRead = 0
                    channel._timeHead()
                self._head = head
                return None
        _log.info(
            "{status} for request line {line!r} from {client}",
            status=status,
            line=head.partition(b"\n")[0][:80],
            client=channel._client,
        )
        channel._reject(status)
        return None
