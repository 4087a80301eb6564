"""
The disconnect scenario's WSGI twin: Flask with synchronous SQLAlchemy over
sqlite, a pool of 5 connections and no overflow.

C{/hold} takes a pooled connection, opens a transaction and works in ten
steps of C{STEP_SECONDS}; between steps it checks
C{environ["gracehttp.disconnected"]} and, once the client is gone, rolls
back and returns its connection.  C{/stats} reports what happened;
C{holding} counts the C{/hold} requests running, and C{idleAt} is when the
pool last had no connection checked out.  Each C{/hold} that starts writes
C{sqla_wsgi: /hold started for client port PORT} to stderr at once (not
through a log that could buffer it), so that a test learns which clients
have a thread without asking the busy server.

The database file is C{$GRACEHTTP_TEST_DB}.
"""

import logging
import os
import threading
import time

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, event, text

STEPS = 10
STEP_SECONDS = 0.1

engine = create_engine(
    "sqlite:///" + os.environ["GRACEHTTP_TEST_DB"],
    pool_size=5,
    max_overflow=0,
    pool_timeout=30,
)
lock = threading.Lock()
stats = {
    "started": 0,
    "holding": 0,
    "finished": 0,
    "rolledBack": 0,
    "disconnects": [],
    "poolErrors": [],
    "idleAt": None,
}
checkedOut = 0


class _PoolErrors(logging.Handler):
    """
    Records every warning or error SQLAlchemy's pool logs.
    """

    def emit(self, record):
        with lock:
            stats["poolErrors"].append(record.getMessage())


logging.getLogger("sqlalchemy.pool").addHandler(_PoolErrors(logging.WARNING))


@event.listens_for(engine.pool, "checkout")
def _checkout(*args):
    global checkedOut
    with lock:
        checkedOut += 1


@event.listens_for(engine.pool, "checkin")
def _checkin(*args):
    global checkedOut
    with lock:
        checkedOut -= 1
        if checkedOut == 0:
            stats["idleAt"] = time.monotonic()


app = Flask(__name__)


@app.get("/hold")
def hold():
    with lock:
        stats["started"] += 1
        stats["holding"] += 1
    port = request.environ.get("REMOTE_PORT", "-")
    os.write(2, f"sqla_wsgi: /hold started for client port {port}\n".encode())
    try:
        return _hold(request.environ["gracehttp.disconnected"])
    finally:
        with lock:
            stats["holding"] -= 1


def _hold(disconnected):
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        for _ in range(STEPS):
            if disconnected.wait(STEP_SECONDS):
                conn.rollback()
                with lock:
                    stats["rolledBack"] += 1
                    stats["disconnects"].append(time.monotonic())
                return "rolled back", 499
        conn.commit()
    with lock:
        stats["finished"] += 1
    return "held"


@app.get("/quick")
def quick():
    with engine.connect() as conn:
        value = conn.execute(text("SELECT 42")).scalar()
    return jsonify(value=value)


@app.get("/stats")
def getStats():
    with lock:
        return jsonify(
            dict(stats, checkedOut=checkedOut, checkedOutByPool=engine.pool.checkedout())
        )
