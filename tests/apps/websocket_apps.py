"""
ASGI WebSocket applications for the tests, on the plain ASGI interface
(ASGI WebSocket spec 2.5), routed by path:

  - C{/echo}: accepts (with the first subprotocol the client offered)
    and sends every message back as it came, text as text and bytes as
    bytes, until the client leaves.  C{echo} alone is that application,
    for other servers and the benchmark.
  - C{/deny}: closes before accepting (a 403).
  - C{/deny401}: denies with C{websocket.http.response}: 401 with a body.
  - C{/close}: accepts, then closes with the code and reason the client
    sends as its first message (C{"4001 bye"}).
  - C{/hold}: accepts and waits for the disconnect; C{events} records what
    it saw, and C{/hold} answers C{send()} after it with what it raised.
  - C{/stubborn}: accepts, and on the disconnect keeps running until it is
    cancelled (the grace period), recording that.
  - C{/boom}: accepts, then raises.
  - C{/consumer}: a Django Channels-style consumer (a class whose instances
    are made per connection, with C{websocket_connect},
    C{websocket_receive} and C{websocket_disconnect} handlers).

The lifespan scope is answered so that every mode works.
"""

import asyncio
import threading

events = []
"""
What C{/hold}, C{/stubborn} and C{/consumer} saw, in order, as tuples:
appended from the application's task (the reactor thread).
"""

changed = threading.Condition()
"""
Notified whenever L{events} grows, for tests on another thread.
"""


def record(*event):
    """
    Append C{event} to L{events} and wake the tests waiting on it.
    """
    with changed:
        events.append(event)
        changed.notify_all()


def waitFor(predicate, timeout=10.0):
    """
    Wait (on another thread than the application's) until
    C{predicate(events)} is true.

    @return: L{events}, copied.
    @raise AssertionError: C{timeout} seconds passed first.
    """
    with changed:
        if not changed.wait_for(lambda: predicate(events), timeout):
            raise AssertionError(f"not seen within {timeout} s; events: {events!r}")
        return list(events)


async def echo(scope, receive, send):
    """
    Accept and echo every message until the client leaves.
    """
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    subprotocols = scope.get("subprotocols") or [None]
    await send({"type": "websocket.accept", "subprotocol": subprotocols[0]})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def _deny(scope, receive, send):
    await receive()
    await send({"type": "websocket.close"})


async def _deny401(scope, receive, send):
    await receive()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
    await send({"type": "websocket.http.response.body", "body": b"token\n"})


async def _close(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    message = await receive()
    code, _, reason = message["text"].partition(" ")
    await send({"type": "websocket.close", "code": int(code), "reason": reason})
    record("closed", await receive())


async def _hold(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            break
    record("hold", message)
    try:
        await send({"type": "websocket.send", "text": "too late"})
    except OSError as e:
        record("hold-send", type(e).__name__)


async def _stubborn(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    message = await receive()
    record("stubborn", message)
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        record("stubborn-cancelled")
        raise


async def _boom(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    raise RuntimeError("boom")


class Consumer:
    """
    A Django Channels-style consumer on plain ASGI: one instance per
    connection, its handlers named after the events they take.
    """

    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        self.send = send
        while True:
            message = await receive()
            handler = getattr(self, message["type"].replace(".", "_"))
            if await handler(message) is False:
                return

    async def websocket_connect(self, message):
        await self.send({"type": "websocket.accept"})
        query = self.scope["query_string"].decode()
        scheme = self.scope["scheme"]
        await self.send({"type": "websocket.send", "text": f"hello {query} over {scheme}"})

    async def websocket_receive(self, message):
        text = message.get("text")
        if text is not None:
            await self.send({"type": "websocket.send", "text": text.upper()})
        else:
            await self.send({"type": "websocket.send", "bytes": message["bytes"][::-1]})

    async def websocket_disconnect(self, message):
        record("consumer", message["code"])
        return False


ROUTES = {
    "/echo": echo,
    "/deny": _deny,
    "/deny401": _deny401,
    "/close": _close,
    "/hold": _hold,
    "/stubborn": _stubborn,
    "/boom": _boom,
}


async def app(scope, receive, send):
    """
    The applications above, by path; plain HTTP gets a 200 saying so.
    """
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        body = b"plain http"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    if scope["path"] == "/consumer":
        await Consumer(scope)(receive, send)
        return
    await ROUTES.get(scope["path"], _deny)(scope, receive, send)
