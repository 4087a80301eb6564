"""
Applications that answer with the addresses they were given, as JSON: the
ASGI C{scope}'s C{client}, C{server} and C{scheme}, the WSGI C{environ}'s
C{SERVER_NAME}, C{SERVER_PORT}, C{REMOTE_ADDR} and C{wsgi.url_scheme}.
"""

import json


async def asgiApp(scope, receive, send):
    """
    Answer an HTTP request with its scope's addresses.
    """
    if scope["type"] != "http":
        return
    body = json.dumps(
        {"client": scope.get("client"), "server": scope.get("server"), "scheme": scope["scheme"]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def wsgiApp(environ, start_response):
    """
    Answer with the environ's addresses (C{REMOTE_ADDR} L{None} when absent).
    """
    keys = ["SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "wsgi.url_scheme"]
    body = json.dumps({key: environ.get(key) for key in keys}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
