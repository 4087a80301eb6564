"""
The exception types gracehttp raises into applications and at start-up.
"""


class ClientDisconnected(OSError):
    """
    The client closed the connection, so the request can no longer be read
    from or answered.

    Raised by ASGI C{send()} after C{http.disconnect} (ASGI HTTP spec 2.5,
    "Disconnected Client - send exception") and by WSGI C{wsgi.input.read()}
    and C{write()} once the client is gone.  It is an L{OSError} so that
    applications treating I/O errors generically handle it; gracehttp does
    not log it as an application error.
    """


class AppLoadError(Exception):
    """
    The C{--app} reference could not be turned into an application.

    The message is one line, meant for the user (e.g. C{No module named
    'nosuch'}).
    """


class LifespanFailure(Exception):
    """
    The application reported C{lifespan.startup.failed} or
    C{lifespan.shutdown.failed} (ASGI lifespan spec 2.0), or it raised while
    C{--lifespan on} was given.

    @ivar details: more than the one-line message, as the application gave
        it: a traceback (the text of a multi-line C{message}, as Starlette
        sends, or the exception the application raised), or L{None}.
    @type details: L{str} or L{None}
    """

    def __init__(self, message="", details=None):
        """
        @param message: what went wrong, one line.
        @type message: L{str}
        @param details: see C{details}.
        @type details: L{str} or L{None}
        """
        super().__init__(message)
        self.details = details


class LifespanTimeout(LifespanFailure):
    """
    A lifespan phase (startup or shutdown) did not complete within
    C{--lifespan-timeout} seconds.
    """
