"""
Applications for the worker-process tests: each answers with the pid of
the worker that served it.

  - L{wsgi}: C{GET /} answers C{pid multiprocess} (C{wsgi.multiprocess});
    C{GET /client} answers C{REMOTE_ADDR}; C{GET /slow} prints C{slow started PID} and answers after
    C{SLOW_SECONDS}, to be in flight when the server stops.
  - L{asgi}: C{GET /} answers the pid; its lifespan startup prints
    C{lifespan startup PID} and its shutdown C{lifespan shutdown PID}.
"""

import os
import sys
import time

SLOW_SECONDS = 1.0
"""
How long C{/slow} takes, in seconds: long enough to be in flight when a
test stops the server after seeing it start.
"""


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def wsgi(environ, start_response):
    pid = str(os.getpid())
    if environ["PATH_INFO"] == "/slow":
        _say(f"slow started {pid}")
        time.sleep(SLOW_SECONDS)
    body = f"{pid} {environ['wsgi.multiprocess']}".encode()
    if environ["PATH_INFO"] == "/client":
        body = environ["REMOTE_ADDR"].encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("X-Worker", pid)],
    )
    return [body]


async def asgi(scope, receive, send):
    pid = str(os.getpid())
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            phase = message["type"].rpartition(".")[2]
            _say(f"lifespan {phase} {pid}")
            await send({"type": f"lifespan.{phase}.complete"})
            if phase == "shutdown":
                return
    body = pid.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"x-worker", body)],
        }
    )
    await send({"type": "http.response.body", "body": body})
