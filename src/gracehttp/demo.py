"""
The bundled demo: a small pure-ASGI application that shows what gracehttp
is for.

Run it with C{twist gracehttp --app gracehttp.demo:app} and try::

    curl http://127.0.0.1:8000/
    curl http://127.0.0.1:8000/slow?seconds=5          # press Ctrl-C after 1 s
    curl 'http://127.0.0.1:8000/slow?seconds=10&ignore-disconnect=1'   # and Ctrl-C

C{/slow} takes a pretend database connection from a pool of five, "works"
for the given seconds while listening for C{http.disconnect}, and logs
what happens: when the client left, that the connection went back to the
pool after cleanup, or that it was cancelled after the grace period
because it ignored the disconnect.
"""

import asyncio
from urllib.parse import parse_qs

from twisted.logger import Logger

log = Logger(namespace="gracehttp.demo")

POOL_SIZE = 5
"""
How many pretend database connections the demo's pool holds.
"""

CLEANUP_SECONDS = 0.5
"""
How long the pretend rollback after a disconnect takes, in seconds.
"""

MAX_SECONDS = 60.0
"""
The longest C{/slow?seconds=} honoured, in seconds.
"""

_INDEX = """\
gracehttp demo

When a client hangs up mid-request, gracehttp tells the application
(ASGI http.disconnect), gives it a grace period to clean up (default 3 s,
--disconnect-grace-period), and only then cancels it.

Try, and watch the server's log:

  curl http://HOST/slow?seconds=5
      holds a pretend DB connection for 5 s and answers.  Press Ctrl-C
      before: the app notices the disconnect, rolls back, returns the
      connection to the pool and logs each step.

  curl 'http://HOST/slow?seconds=10&ignore-disconnect=1'
      the same, but the app ignores the disconnect and goes on working.
      Press Ctrl-C: after the grace period gracehttp cancels it
      (asyncio.CancelledError) and its cleanup still returns the
      connection.

Pool: {free} of {size} connections free.
"""


class _Pool:
    """
    A pretend database connection pool.

    @ivar size: how many connections it holds.
    """

    def __init__(self, size):
        self.size = size
        self._free = None

    def _connections(self):
        # Created on first use, on the running loop.
        if self._free is None:
            self._free = asyncio.Queue()
            for number in range(1, self.size + 1):
                self._free.put_nowait(number)
        return self._free

    @property
    def free(self):
        """
        @return: how many connections are not checked out.
        @rtype: L{int}
        """
        return self.size if self._free is None else self._free.qsize()

    async def acquire(self):
        """
        @return: a connection number; waits while all are checked out.
        """
        return await self._connections().get()

    def release(self, connection):
        """
        Return a connection to the pool.
        """
        self._connections().put_nowait(connection)


pool = _Pool(POOL_SIZE)


async def app(scope, receive, send):
    """
    The demo ASGI 3.0 application (see the module docstring).

    @param scope: the ASGI connection scope (C{http} or C{lifespan}).
    @param receive: the ASGI receive callable.
    @param send: the ASGI send callable.
    """
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http":
        if scope["path"] == "/slow":
            await _slow(scope, receive, send)
        elif scope["path"] == "/":
            host = dict(scope["headers"]).get(b"host", b"127.0.0.1:8000")
            text = _INDEX.format(free=pool.free, size=pool.size)
            await _respond(send, 200, text.replace("HOST", host.decode("latin-1")))
        else:
            await _respond(send, 404, "Not found. Try / or /slow?seconds=5\n")


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            log.info("demo: pool of {size} pretend DB connections ready", size=pool.size)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            log.info(
                "demo: closing the pool ({free} of {size} connections free)",
                free=pool.free,
                size=pool.size,
            )
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send, status, text):
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _waitForDisconnect(receive):
    while (await receive())["type"] != "http.disconnect":
        pass


def _query(scope):
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        seconds = float(query.get("seconds", ["5"])[0])
    except ValueError:
        seconds = 5.0
    if not 0 <= seconds <= MAX_SECONDS:
        seconds = 5.0
    ignore = query.get("ignore-disconnect", ["0"])[0] not in ("", "0", "false")
    return seconds, ignore


async def _slow(scope, receive, send):
    seconds, ignoreDisconnect = _query(scope)
    loop = asyncio.get_running_loop()
    started = loop.time()
    connection = await pool.acquire()
    log.info(
        "demo: /slow took DB connection #{connection} ({free} of {size} free), "
        "working for {seconds} s",
        connection=connection,
        free=pool.free,
        size=pool.size,
        seconds=seconds,
    )
    work = asyncio.ensure_future(asyncio.sleep(seconds))
    disconnect = asyncio.ensure_future(_waitForDisconnect(receive))
    try:
        await asyncio.wait({work, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        if disconnect.done() and not ignoreDisconnect:
            log.info(
                "demo: client left after {elapsed} s; rolling back connection #{connection}",
                elapsed=round(loop.time() - started, 2),
                connection=connection,
            )
            work.cancel()
            leftAt = loop.time()
            await asyncio.sleep(CLEANUP_SECONDS)
            log.info(
                "demo: cleanup finished {cleanup} s after the client left",
                cleanup=round(loop.time() - leftAt, 2),
            )
            return
        if disconnect.done():
            log.info(
                "demo: client left after {elapsed} s; ignoring it and working on",
                elapsed=round(loop.time() - started, 2),
            )
        await work
        elapsed = loop.time() - started
        if disconnect.done():
            log.info(
                "demo: finished the work after {elapsed} s for a client that is gone",
                elapsed=round(elapsed, 2),
            )
        else:
            await _respond(
                send, 200, f"done after {elapsed:.2f} s on DB connection #{connection}\n"
            )
    except asyncio.CancelledError:
        log.warn(
            "demo: cancelled by gracehttp {elapsed} s after the request began "
            "(the grace period after the disconnect ended)",
            elapsed=round(loop.time() - started, 2),
        )
        raise
    finally:
        work.cancel()
        disconnect.cancel()
        pool.release(connection)
        log.info(
            "demo: connection #{connection} returned to the pool ({free} of {size} free)",
            connection=connection,
            free=pool.free,
            size=pool.size,
        )
