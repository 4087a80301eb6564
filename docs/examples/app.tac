# Run with:  twistd -n -y docs/examples/app.tac
#
# A .tac file builds the same service `twist gracehttp` does, from Python.
# Here: the bundled demo on 127.0.0.1:8000 (or wherever GRACEHTTP_LISTEN
# says, e.g. GRACEHTTP_LISTEN=tcp:0:interface=127.0.0.1 for any free port).
import os

from twisted.application import service

import gracehttp

application = service.Application("gracehttp")

gracehttp.makeService(
    app="gracehttp.demo:app",
    listen=[os.environ.get("GRACEHTTP_LISTEN", "tcp:8000:interface=127.0.0.1")],
    disconnectGracePeriod=3.0,
).setServiceParent(application)
