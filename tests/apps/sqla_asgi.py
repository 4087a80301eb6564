"""
The disconnect scenario's ASGI app: FastAPI with async SQLAlchemy over
aiosqlite, a pool of 5 connections and no overflow.

C{/hold} takes a pooled connection, opens a transaction and holds it for
C{HOLD_SECONDS} without ever looking for a disconnect: the kind of handler
that servers which never cancel leave running.  A watcher task records when
C{http.disconnect} arrives.  C{/quick} uses the pool briefly.  C{/stats}
reports what happened; C{/wait-idle} answers once no C{/hold} request is
running or waiting and no connection is checked out (C{idleAt} is when
that became true).

The database file is C{$GRACEHTTP_TEST_DB}.
"""

import asyncio
import logging
import os
import time

from fastapi import FastAPI, Request
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

HOLD_SECONDS = 1.0

engine = create_async_engine(
    "sqlite+aiosqlite:///" + os.environ["GRACEHTTP_TEST_DB"],
    pool_size=5,
    max_overflow=0,
    pool_timeout=30,
)
stats = {
    "started": 0,
    "finished": 0,
    "cancelled": 0,
    "disconnects": [],
    "cancelledAt": [],
    "poolErrors": [],
    "idleAt": None,
}
checkedOut = 0
holding = 0
idle = asyncio.Event()
idle.set()


def _checkIdle():
    if checkedOut == 0 and holding == 0:
        stats["idleAt"] = time.monotonic()
        idle.set()


class _PoolErrors(logging.Handler):
    """
    Records every warning or error SQLAlchemy's pool logs (a failed reset,
    a checkout timeout).
    """

    def emit(self, record):
        stats["poolErrors"].append(record.getMessage())


logging.getLogger("sqlalchemy.pool").addHandler(_PoolErrors(logging.WARNING))


@event.listens_for(engine.sync_engine.pool, "checkout")
def _checkout(*args):
    global checkedOut
    checkedOut += 1
    idle.clear()


@event.listens_for(engine.sync_engine.pool, "checkin")
def _checkin(*args):
    global checkedOut
    checkedOut -= 1
    _checkIdle()


app = FastAPI()


async def _watchDisconnect(request):
    while (await request.receive())["type"] != "http.disconnect":
        pass
    stats["disconnects"].append(time.monotonic())


@app.get("/hold")
async def hold(request: Request):
    global holding
    stats["started"] += 1
    holding += 1
    idle.clear()
    watcher = asyncio.ensure_future(_watchDisconnect(request))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await asyncio.sleep(HOLD_SECONDS)
            await conn.commit()
    except asyncio.CancelledError:
        stats["cancelled"] += 1
        stats["cancelledAt"].append(time.monotonic())
        raise
    finally:
        watcher.cancel()
        holding -= 1
        _checkIdle()
    stats["finished"] += 1
    return {"held": HOLD_SECONDS}


@app.get("/quick")
async def quick():
    async with engine.connect() as conn:
        value = (await conn.execute(text("SELECT 42"))).scalar()
    return {"value": value}


@app.get("/wait-idle")
async def waitIdle():
    await asyncio.wait_for(idle.wait(), 30)
    return {"idleAt": stats["idleAt"], "checkedOut": checkedOut}


@app.get("/stats")
async def getStats():
    return dict(stats, checkedOut=checkedOut, checkedOutByPool=engine.pool.checkedout())
