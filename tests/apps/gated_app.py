"""
An ASGI application whose lifespan startup and C{/slow} requests wait for
the test to let them go: each connects to the test's gate (C{127.0.0.1},
port C{GATE_PORT} from the environment) and waits for one byte, so that
a test can hold the server in its start or hold a request in flight,
waiting on events, not time.  C{/} answers at once.
"""

import asyncio
import os


async def passGate():
    """
    Connect to the test's gate and wait until it sends a byte.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", int(os.environ["GATE_PORT"]))
    await reader.read(1)
    writer.close()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                print("gated startup waiting", flush=True)
                await passGate()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        print("gated request waiting", flush=True)
        await passGate()
    body = b"done\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
