"""
A Starlette chat room over WebSockets, served by gracehttp: what a
WebSocket application sees when a member leaves, politely or not, and
when the server stops.

From the root of the repository::

    twist gracehttp --app examples.starlette_chat.app:app

  - C{/} is a page with a small chat client (open it in two tabs);
  - C{/ws?name=NAME} is the room: every text message a member sends is
    sent to every member as C{NAME: TEXT}; joining and leaving are
    announced; a name already in the room is refused (HTTP 403).  When
    a member goes away, the application is told
    (Starlette's C{WebSocketDisconnect}, from gracehttp's
    C{websocket.disconnect}) with the close code: C{1000} or C{1001}
    for a client that closed, C{1006} for one whose connection was lost
    without a close frame, C{1012} for every member when the server
    stops gracefully (C{SIGTERM}, Ctrl-C).  Each is logged.
"""

import logging

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from examples.twistedlog import sendLoggingToTwisted

sendLoggingToTwisted()
log = logging.getLogger(__name__)

members = {}
"""
The room: each connected member's WebSocket, by name.
"""

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>gracehttp chat</title></head>
<body>
<form id="join"><input id="name" placeholder="your name" required> <button>Join</button></form>
<pre id="log"></pre>
<form id="say" hidden><input id="text" autocomplete="off"> <button>Send</button></form>
<script>
const log = document.getElementById("log");
let ws;
document.getElementById("join").onsubmit = (event) => {
  event.preventDefault();
  const name = encodeURIComponent(document.getElementById("name").value);
  ws = new WebSocket(`ws://${location.host}/ws?name=${name}`);
  ws.onmessage = (message) => { log.textContent += message.data + "\\n"; };
  ws.onclose = (close) => { log.textContent += `(closed: ${close.code})\\n`; };
  event.target.hidden = true;
  document.getElementById("say").hidden = false;
};
document.getElementById("say").onsubmit = (event) => {
  event.preventDefault();
  const text = document.getElementById("text");
  ws.send(text.value);
  text.value = "";
};
</script>
</body></html>
"""


async def index(request):
    return HTMLResponse(PAGE)


async def broadcast(text):
    """
    Send C{text} to every member; one that is gone meanwhile is skipped
    (its own handler sees its disconnect).
    """
    for websocket in list(members.values()):
        try:
            await websocket.send_text(text)
        except (OSError, RuntimeError, WebSocketDisconnect):
            # gracehttp.ClientDisconnected is an OSError.
            pass


async def room(websocket: WebSocket):
    name = websocket.query_params.get("name", "").strip()
    if not name or name in members:
        # Closing before accepting refuses the handshake: HTTP 403.
        await websocket.close()
        return
    await websocket.accept()
    members[name] = websocket
    log.info("chat: %s joined (%d in the room)", name, len(members))
    await broadcast(f"* {name} joined")
    try:
        while True:
            text = await websocket.receive_text()
            await broadcast(f"{name}: {text}")
    except WebSocketDisconnect as disconnect:
        code = disconnect.code
    finally:
        del members[name]
    log.info("chat: %s left (code %d, %d in the room)", name, code, len(members))
    await broadcast(f"* {name} left")


app = Starlette(routes=[Route("/", index), WebSocketRoute("/ws", room)])
