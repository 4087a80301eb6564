"""
A Flask application (WSGI) served by gracehttp.

From the root of the repository::

    twist gracehttp --app examples.flask_app.app:app

C{/report} is a long request that looks at
C{environ["gracehttp.disconnected"]} between its steps and stops, cleaning
up, as soon as the client has gone: a WSGI thread cannot be interrupted,
so the application has to look.
"""

import logging
import time

from flask import Flask, jsonify, request, url_for

from examples.twistedlog import sendLoggingToTwisted

sendLoggingToTwisted()
log = logging.getLogger(__name__)

STEP_SECONDS = 0.1
"""
How often C{/report} looks whether its client has gone, in seconds.
"""

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask, served by gracehttp\n"


@app.get("/items/<int:number>")
def item(number):
    return jsonify(number=number, url=url_for("item", number=number))


@app.post("/echo")
def echo():
    return request.get_data(), 200, {"content-type": "application/octet-stream"}


@app.get("/report")
def report():
    """
    Work for C{?seconds=} (default 5, at most 60) in small steps; stop at
    the first step after the client has gone.
    """
    seconds = min(request.args.get("seconds", 5.0, type=float), 60.0)
    # A threading.Event under gracehttp; None under a server without it.
    gone = request.environ.get("gracehttp.disconnected")
    started = time.monotonic()
    log.info("report: started, working for %.1f s", seconds)
    while time.monotonic() - started < seconds:
        # Event.wait returns True as soon as the event is set.
        if gone is not None and gone.wait(STEP_SECONDS):
            log.info(
                "report: client left after %.1f s; stopped and cleaned up",
                time.monotonic() - started,
            )
            # The client is gone: this answer is never sent.
            return "", 204
        if gone is None:
            time.sleep(STEP_SECONDS)
    return jsonify(report="done", seconds=seconds)
