"""
What the C{receive} and C{send} of an ASGI application wait on: futures of
the event loop, all woken together when the unit of work they read
(a request or a WebSocket session) changes.
"""


class Waiters:
    """
    The futures an application's coroutines wait on, on one event loop.

    A waiting C{receive} or C{send} gets a future from L{_wait}, awaits
    it, then looks again at what it waits for; L{wake} (the unit of work's
    C{wake} callback, called on the reactor's thread, which runs the loop)
    resolves every future handed out since the last wake.

    @ivar _loop: the event loop the application runs on.
    @type _loop: L{asyncio.AbstractEventLoop}
    @ivar _waiters: the futures handed out and not yet resolved, or
        L{None}.
    """

    __slots__ = ("_loop", "_waiters")

    def __init__(self, loop):
        self._loop = loop
        self._waiters = None

    def wake(self):
        """
        Something a waiting C{receive} or C{send} may need changed.
        """
        waiters = self._waiters
        if waiters is not None:
            self._waiters = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _wait(self):
        """
        @return: a future resolved at the next L{wake}.
        @rtype: L{asyncio.Future}
        """
        waiter = self._loop.create_future()
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        return waiter
