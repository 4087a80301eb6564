"""
A small FastAPI (ASGI, on Starlette) app for the end-to-end tests, with a
lifespan that fills C{state}, and WebSocket routes: C{/ws} (a FastAPI
route echoing with the lifespan state), C{/ws/counter} (a Starlette
C{WebSocketRoute} with a C{WebSocketEndpoint}), C{/ws/peer} (sends its scope's
C{client} and C{server}), C{/ws/private} (closes
before accepting) and C{/ws/denied} (a denial response).
"""

import contextlib

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from starlette.endpoints import WebSocketEndpoint
from starlette.routing import WebSocketRoute

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


@app.get("/peer")
async def peer(request: Request):
    return {"client": request.scope["client"], "server": request.scope["server"]}


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


@app.websocket("/ws")
async def websocketEcho(websocket: WebSocket):
    subprotocols = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol=subprotocols[0] if subprotocols else None)
    greeting = websocket.state.greeting
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{greeting}: {text}")
    except WebSocketDisconnect as e:
        print(f"route saw close {e.code}", flush=True)


@app.websocket("/ws/peer")
async def websocketPeer(websocket: WebSocket):
    await websocket.accept()
    scope = websocket.scope
    await websocket.send_json({"client": scope["client"], "server": scope["server"]})
    await websocket.close()


@app.websocket("/ws/private")
async def private(websocket: WebSocket):
    await websocket.close(code=1008)


@app.websocket("/ws/denied")
async def denied(websocket: WebSocket):
    await websocket.send_denial_response(PlainTextResponse("go away", status_code=401))


class Counter(WebSocketEndpoint):
    encoding = "json"

    async def on_connect(self, websocket):
        await websocket.accept()
        self.count = 0

    async def on_receive(self, websocket, data):
        self.count += 1
        await websocket.send_json({"count": self.count, **data})


app.router.routes.append(WebSocketRoute("/ws/counter", Counter))
