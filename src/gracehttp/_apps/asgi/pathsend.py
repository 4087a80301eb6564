"""
The ASGI C{http.response.pathsend} extension: the application names a
file and the server sends it as the response body (ASGI HTTP spec,
"Extensions": "Path Send").  Starlette's C{FileResponse} uses it when the
scope lists it, instead of reading the file itself.

The file is read in blocks of L{BLOCK_SIZE} bytes on the event loop's
default executor (a thread), so a slow disk never blocks the loop; each
block is written to the exchange, and the next one is read only once the
transport is below its high-water mark, so a slow client holds at most
one block (plus the transport's buffer) of the file in memory.
"""

import asyncio

from gracehttp._errors import ClientDisconnected

EXTENSION = "http.response.pathsend"
"""
The extension's name in C{scope["extensions"]}.
"""

BLOCK_SIZE = 256 * 1024
"""
Bytes read from the file per block.
"""


async def sendPath(exchange, path, waitForWriting):
    """
    Send the file at C{path} as the rest of C{exchange}'s response body and
    finish the response.

    @param exchange: a request whose response has started and not ended.
    @type exchange: L{gracehttp._core.exchange.Exchange}
    @param path: the file, as the event's C{path} (an absolute path).
    @type path: L{str}
    @param waitForWriting: waits (asynchronously) until the transport is
        below its high-water mark or the client is gone.
    @type waitForWriting: zero-argument coroutine function
    @raise OSError: the file cannot be opened or read (the application's
        error: the response is given up as for any exception it raises).
    @raise ClientDisconnected: the client left while the file was sent.
    """
    loop = asyncio.get_running_loop()
    with await loop.run_in_executor(None, open, path, "rb") as f:
        while True:
            block = await loop.run_in_executor(None, f.read, BLOCK_SIZE)
            if exchange.disconnected:
                raise ClientDisconnected("client disconnected")
            if not block:
                break
            exchange.write(block)
            if exchange.writePaused:
                await waitForWriting()
    if exchange.disconnected:
        raise ClientDisconnected("client disconnected")
    exchange.finish()
