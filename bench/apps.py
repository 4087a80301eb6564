"""
The applications every server in the benchmark serves, as ASGI and WSGI.

Routes (the same on both interfaces):

 - C{GET /}: the 13-byte body C{Hello, world!}.
 - C{GET /64k}: a 64 KiB (65,536 bytes) body with a Content-Length.
 - C{POST /echo}: the request body sent back (read whole, then answered
   with a Content-Length); the harness posts 256 KiB.
 - C{POST /upload}: the request body read whole and dropped, answered
   with C{Hello, world!} (C{bench/h2.py} posts 64 KiB).
 - C{GET /stream}: 10 MiB (10,485,760 bytes) sent as 160 chunks of 64 KiB
   with no Content-Length (chunked transfer coding, RFC 9112 section 7.1),
   each chunk a separate ASGI C{http.response.body} message (ASGI HTTP spec,
   "Response Body") or a separate item of the WSGI iterable (PEP 3333,
   "Buffering and Streaming").

The bodies are built once at import so that the servers, not the
applications, are what is measured.  The ASGI application also answers the
lifespan protocol (ASGI lifespan spec 2.0) so that every server can start
it in its default mode.

The ASGI application accepts a WebSocket on any path (ASGI WebSocket spec
2.5: C{websocket.connect} answered by C{websocket.accept}) and echoes every
message back as it came, text as text and bytes as bytes, until the client
leaves: the echo server of C{bench/ws.py} and C{bench/autobahn.py}.
"""

HELLO = b"Hello, world!"
KIB64 = b"x" * 65536
STREAM_CHUNK = b"s" * 65536
STREAM_CHUNKS = 160  # 160 * 64 KiB = 10 MiB

_TEXT = [(b"content-type", b"text/plain")]
_NOT_FOUND = b"Not Found"


def _lengthHeaders(body):
    return [*_TEXT, (b"content-length", str(len(body)).encode("ascii"))]


_HELLO_HEADERS = _lengthHeaders(HELLO)
_KIB64_HEADERS = _lengthHeaders(KIB64)
_NOT_FOUND_HEADERS = _lengthHeaders(_NOT_FOUND)


async def asgi_app(scope, receive, send):
    """
    The benchmark application, ASGI 3 (C{scope}, C{receive}, C{send}).

    @param scope: the connection scope (ASGI HTTP or lifespan spec).
    @type scope: L{dict}
    @param receive: awaitable returning the next event.
    @param send: awaitable taking the next event.
    """
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await _webSocketEcho(receive, send)
        return
    path = scope["path"]
    if path == "/":
        await _asgiRespond(send, _HELLO_HEADERS, HELLO)
    elif path == "/64k":
        await _asgiRespond(send, _KIB64_HEADERS, KIB64)
    elif path == "/echo":
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        await _asgiRespond(send, _lengthHeaders(body), body)
    elif path == "/upload":
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if not message.get("more_body", False):
                break
        await _asgiRespond(send, _HELLO_HEADERS, HELLO)
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        for _ in range(STREAM_CHUNKS):
            await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await _asgiRespond(send, _NOT_FOUND_HEADERS, _NOT_FOUND, 404)


async def _webSocketEcho(receive, send):
    """
    Accept the WebSocket and send every message back unchanged until the
    C{websocket.disconnect} event (ASGI WebSocket spec, "Receive - receive
    event": exactly one of C{text} and C{bytes} is not L{None}).
    """
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def _asgiRespond(send, headers, body, status=200):
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _native(headers):
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


_W_HELLO_HEADERS = _native(_HELLO_HEADERS)
_W_KIB64_HEADERS = _native(_KIB64_HEADERS)
_W_NOT_FOUND_HEADERS = _native(_NOT_FOUND_HEADERS)
_W_TEXT = _native(_TEXT)


def wsgi_app(environ, start_response):
    """
    The benchmark application, WSGI (PEP 3333).

    @param environ: the request environment (PEP 3333, "environ Variables").
    @type environ: L{dict}
    @param start_response: the PEP 3333 C{start_response} callable.
    @return: the response body, an iterable of L{bytes}.
    """
    path = environ["PATH_INFO"]
    if path == "/":
        start_response("200 OK", _W_HELLO_HEADERS)
        return [HELLO]
    if path == "/64k":
        start_response("200 OK", _W_KIB64_HEADERS)
        return [KIB64]
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        start_response("200 OK", _native(_lengthHeaders(body)))
        return [body]
    if path == "/upload":
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", _W_HELLO_HEADERS)
        return [HELLO]
    if path == "/stream":
        start_response("200 OK", _W_TEXT)
        return _stream()
    start_response("404 Not Found", _W_NOT_FOUND_HEADERS)
    return [_NOT_FOUND]


def _stream():
    for _ in range(STREAM_CHUNKS):
        yield STREAM_CHUNK
