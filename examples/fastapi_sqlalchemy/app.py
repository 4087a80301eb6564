"""
A FastAPI application with async SQLAlchemy (aiosqlite), served by
gracehttp, showing the grace period at work.

From the root of the repository::

    twist gracehttp --app examples.fastapi_sqlalchemy.app:app

The database is a SQLite file, C{$DATABASE_URL} (default:
C{gracehttp-example.sqlite3} in the temporary directory), behind a pool of
C{POOL_SIZE} connections and no overflow, as a real database would be.

  - C{/report?seconds=S} takes a pooled connection, opens a transaction
    and works in steps, asking Starlette whether the client is still there
    between steps.  When it is told the client left (gracehttp's
    C{http.disconnect}), it rolls back and returns the connection: cleanup
    on its own terms, within the grace period.
  - C{/stubborn?seconds=S} takes a pooled connection and never looks.  When
    its client leaves, gracehttp waits the grace period
    (C{--disconnect-grace-period}, 3 s) and then cancels it: the handler
    sees L{asyncio.CancelledError}, and the C{async with} returns the
    connection on the way out.
  - C{/} says how many connections are checked out and how many reports
    were committed.
"""

import asyncio
import contextlib
import logging
import os
import tempfile
import time

from fastapi import FastAPI, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from examples.twistedlog import sendLoggingToTwisted

sendLoggingToTwisted()
log = logging.getLogger(__name__)

POOL_SIZE = 5
"""
Connections in the pool; no more are opened.
"""

STEP_SECONDS = 0.1
"""
How often C{/report} asks whether its client is still there, in seconds.
"""

MAX_SECONDS = 60.0
"""
The longest C{?seconds=} honoured.
"""

DATABASE_URL = os.environ.get(
    "DATABASE_URL",
    "sqlite+aiosqlite:///" + os.path.join(tempfile.gettempdir(), "gracehttp-example.sqlite3"),
)

engine = create_async_engine(DATABASE_URL, pool_size=POOL_SIZE, max_overflow=0)


def checkedOut():
    """
    @return: how many of the pool's connections are in use.
    """
    return engine.pool.checkedout()


@contextlib.asynccontextmanager
async def lifespan(app):
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY, seconds REAL)")
        )
    log.info("database ready (%s), pool of %d connections", DATABASE_URL, POOL_SIZE)
    yield
    await engine.dispose()
    log.info("database pool closed")


app = FastAPI(lifespan=lifespan)


def _seconds(seconds):
    return min(max(seconds, 0.0), MAX_SECONDS)


@app.get("/")
async def index():
    async with engine.connect() as conn:
        reports = (await conn.execute(text("SELECT count(*) FROM reports"))).scalar()
    return {"poolSize": POOL_SIZE, "checkedOut": checkedOut(), "reports": reports}


@app.get("/report")
async def report(request: Request, seconds: float = 5.0):
    seconds = _seconds(seconds)
    started = time.monotonic()
    async with engine.connect() as conn:
        log.info(
            "report: took a pooled connection (%d of %d checked out), working for %.1f s",
            checkedOut(),
            POOL_SIZE,
            seconds,
        )
        while time.monotonic() - started < seconds:
            if await request.is_disconnected():
                await conn.rollback()
                break
            await conn.execute(text("SELECT count(*) FROM reports"))
            await asyncio.sleep(STEP_SECONDS)
        else:
            # Written last, so that the write lock SQLite takes is short.
            await conn.execute(text("INSERT INTO reports (seconds) VALUES (:s)"), {"s": seconds})
            await conn.commit()
            return {"report": "done", "seconds": seconds}
    log.info(
        "report: client left after %.1f s; rolled back, connection returned to the pool "
        "(%d of %d checked out)",
        time.monotonic() - started,
        checkedOut(),
        POOL_SIZE,
    )
    # The client is gone: this answer is never sent (FastAPI's send raises
    # gracehttp.ClientDisconnected, which gracehttp logs at info level).
    return Response(status_code=204)


@app.get("/stubborn")
async def stubborn(seconds: float = 30.0):
    seconds = _seconds(seconds)
    started = time.monotonic()
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT count(*) FROM reports"))
            log.info(
                "stubborn: holding a pooled connection (%d of %d checked out) for %.1f s, "
                "not looking for disconnects",
                checkedOut(),
                POOL_SIZE,
                seconds,
            )
            await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        log.warning(
            "stubborn: cancelled by the server %.1f s after it began; connection "
            "returned to the pool (%d of %d checked out)",
            time.monotonic() - started,
            checkedOut(),
            POOL_SIZE,
        )
        raise
    return {"stubborn": "done", "seconds": seconds}
