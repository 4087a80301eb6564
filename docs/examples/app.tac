# Run with:  twistd -n -y docs/examples/app.tac
#
# A .tac file builds the same service `twist gracehttp` does, from Python.
# Here: the bundled demo on 127.0.0.1:8000, or as the GRACEHTTP_* variables
# (and the file GRACEHTTP_CONFIG names) say, as for `twist gracehttp`: e.g.
# GRACEHTTP_LISTEN=tcp:0:interface=127.0.0.1 for any free port.
import os

from twisted.application import service

import gracehttp

application = service.Application("gracehttp")

settings = {"app": "gracehttp.demo:app", "disconnectGracePeriod": 3.0}
settings.update(gracehttp.loadConfig(environ=os.environ))
gracehttp.makeService(**settings).setServiceParent(application)
