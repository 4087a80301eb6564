"""
The HTTP layer's view of the configuration: the settings an
L{HTTPFactory<gracehttp._protocols.http11.HTTPFactory>} and its
connections read, in one immutable value they share.
"""

from dataclasses import dataclass, fields

from gracehttp._config import DEFAULTS, Config


@dataclass(frozen=True)
class HTTPSettings:
    """
    How the HTTP layer treats clients.  Every field but L{timeoutClose} is
    the setting of the same name, with the same default and meaning (see
    the table in L{gracehttp._config.Config}): sizes are in bytes, times
    in seconds, L{None} means "no limit".  L{fromConfig} makes one from a
    checked configuration; made directly (as tests do), nothing is checked.

    @ivar timeoutClose: not a setting: seconds a connection the server
        closes may take to close, counted from when what is left to send
        fits in the transport's buffer (its high-water mark, 64 KiB for
        TCP): the client has to read the rest and close or, over TLS,
        answer C{close_notify} (RFC 8446 section 6.1).  Then the connection
        is aborted.  15 s, as twisted.web allows after its timeouts: a
        client reading at 5 KiB/s gets the last 64 KiB (over TLS, what the
        kernel's socket buffer still holds also has to be read first), and
        it is half the default graceful timeout, so TLS clients that never
        answer do not hold a graceful stop to its limit.
    @ivar timeoutStall: not a setting: seconds an HTTP/2 response may wait
        for a flow-control window the client keeps shut (RFC 9113 section
        5.2: no C{WINDOW_UPDATE} while data waits) before its stream is
        reset, or, for the connection's window, the connection closed.  A
        client that stops reading holds an application (a WSGI thread)
        and its buffered response for as long; 60 s, as nginx's
        C{send_timeout}, lets a browser pause a media stream for a while.
    """

    disconnectGracePeriod: float = DEFAULTS["disconnectGracePeriod"]
    limitRequestHeaderSize: int = DEFAULTS["limitRequestHeaderSize"]
    limitRequestHeaders: int = DEFAULTS["limitRequestHeaders"]
    limitRequestBody: int | None = DEFAULTS["limitRequestBody"]
    timeoutHeader: float = DEFAULTS["timeoutHeader"]
    timeoutKeepAlive: float = DEFAULTS["timeoutKeepAlive"]
    timeoutClose: float = 15.0
    limitConcurrency: int | None = DEFAULTS["limitConcurrency"]
    limitConnections: int | None = DEFAULTS["limitConnections"]
    proxyHeaders: bool = DEFAULTS["proxyHeaders"]
    forwardedAllowIPs: tuple[str, ...] = DEFAULTS["forwardedAllowIPs"]
    h2c: bool = DEFAULTS["h2c"]
    h2MaxConcurrentStreams: int = DEFAULTS["h2MaxConcurrentStreams"]
    timeoutStall: float = 60.0

    @classmethod
    def fromConfig(cls, config: Config) -> "HTTPSettings":
        """
        The HTTP layer's settings in C{config}.

        @type config: L{Config}
        @rtype: L{HTTPSettings}
        """
        return cls(
            **{f.name: getattr(config, f.name) for f in fields(cls) if f.name not in _NOT_SETTINGS}
        )


_NOT_SETTINGS = frozenset(["timeoutClose", "timeoutStall"])
"""
The fields of L{HTTPSettings} that are not settings of L{Config}: fixed
values, which tests may replace.
"""
