"""
A small Flask (WSGI) app for the end-to-end tests.
"""

import hashlib

from flask import Flask, Response, abort, jsonify, request, stream_with_context, url_for

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask"


@app.get("/items/<int:number>")
def item(number):
    return jsonify(url=url_for("item", number=number), path=request.script_root + request.path)


@app.get("/json")
def asJSON():
    return jsonify(
        path=request.path,
        args=request.args,
        script_name=request.environ["SCRIPT_NAME"],
        remote_addr=request.remote_addr,
    )


@app.get("/peer")
def peer():
    environ = request.environ
    names = ("REMOTE_ADDR", "REMOTE_PORT", "SERVER_NAME", "SERVER_PORT")
    return jsonify({name: environ.get(name) for name in names})


@app.post("/echo")
def echo():
    data = request.get_data()
    return Response(data, content_type="application/octet-stream")


@app.post("/size")
def size():
    total = 0
    while True:
        chunk = request.stream.read(65536)
        if not chunk:
            break
        total += len(chunk)
    return jsonify(size=total)


@app.post("/digest")
def digest():
    """
    The body's length and SHA-256.  Like the httpbin application, refuses
    a body still marked chunked (501): it wants a Content-Length.
    """
    if request.environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        abort(501)
    data = request.get_data()
    return jsonify(
        length=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        contentLength=request.environ.get("CONTENT_LENGTH"),
        transferEncoding=request.environ.get("HTTP_TRANSFER_ENCODING"),
    )


@app.get("/stream")
def stream():
    def generate():
        for i in range(5):
            yield f"chunk {i}\n"

    return Response(stream_with_context(generate()), content_type="text/plain")


@app.get("/boom")
def boom():
    raise RuntimeError("boom")
