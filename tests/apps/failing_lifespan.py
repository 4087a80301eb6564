"""
A Starlette application whose lifespan startup raises: Starlette reports
C{lifespan.startup.failed} with the traceback as its message, then
re-raises.
"""

import contextlib

from starlette.applications import Starlette


@contextlib.asynccontextmanager
async def lifespan(app):
    raise RuntimeError("database is down")
    yield


app = Starlette(lifespan=lifespan)
