"""
A small FastAPI (ASGI, on Starlette) app for the end-to-end tests, with a
lifespan that fills C{state}.
"""

import contextlib

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse

from tests.apps.events import Events

servedFile = None
"""
The file C{/file} serves; set by the in-process tests.
"""

events = Events()
"""
What happened, for the in-process tests: lifespan startups, disconnects
seen by C{/wait}.
"""


@contextlib.asynccontextmanager
async def lifespan(app):
    events.add("lifespan startup")
    yield {"greeting": "hello from lifespan"}


app = FastAPI(lifespan=lifespan)


@app.api_route("/", methods=["GET", "HEAD"], response_class=PlainTextResponse)
async def index():
    return "Hello from FastAPI"


@app.get("/items/{number}", name="item")
async def item(number: int, request: Request):
    return {"url": str(request.url_for("item", number=number)), "path": request.url.path}


@app.get("/json")
async def asJSON(request: Request):
    return {
        "path": request.url.path,
        "query": dict(request.query_params),
        "root_path": request.scope["root_path"],
        "client": list(request.client),
        "greeting": request.state.greeting,
        "spec_version": request.scope["asgi"]["spec_version"],
    }


@app.post("/echo")
async def echo(request: Request):
    body = await request.body()
    return PlainTextResponse(body, media_type="application/octet-stream")


@app.post("/size")
async def size(request: Request):
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
    return {"size": total}


@app.get("/stream")
async def stream():
    async def generate():
        for i in range(5):
            yield f"chunk {i}\n"

    return StreamingResponse(generate(), media_type="text/plain")


@app.get("/boom")
async def boom():
    raise RuntimeError("boom")


@app.get("/file")
async def file():
    return FileResponse(servedFile)


@app.get("/wait")
async def wait(request: Request):
    events.add("waiting")
    while (await request.receive())["type"] != "http.disconnect":
        pass
    events.add("told")
