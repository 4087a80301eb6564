"""
The benchmark's two virtualenvs: the peers' (the servers being compared,
and the harness itself), and gracehttp's own, into which gracehttp is
installed from the working tree with its dependencies and its C{http2}
and C{uvloop} extras, as uvicorn comes with uvloop in C{uvicorn[standard]}
(a real, non-editable install, so that C{twist} finds the gracehttp
plugin).  C{bench/h2bench.py} serves TLS, which needs the C{tls} extra:
it has a third virtualenv, C{bench/.venv-gracehttp-tls}, because with
pyOpenSSL installed Twisted loads OpenSSL into every C{twist} process
(about 13 MiB more RSS, TLS or not), which the other benchmarks' memory
figures would count.

Twisted-based servers (gracehttp and C{twist web --wsgi}) run from
gracehttp's virtualenv: C{twist} imports every Twisted plugin installed
beside it, and in the peers' virtualenv daphne brings autobahn's, which
added 11 MiB to the RSS of every C{twist} process.  A deployment of
gracehttp has its application's packages next to it, not daphne's.

The peers are pinned by name only (the newest release each time); the
versions used are recorded in the results.
"""

import hashlib
import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
VENV = os.path.join(BENCH, ".venv-peers")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
GRACEHTTP_VENV = os.path.join(BENCH, ".venv-gracehttp")
GRACEHTTP_PYTHON = os.path.join(GRACEHTTP_VENV, "bin", "python")
GRACEHTTP_TLS_VENV = os.path.join(BENCH, ".venv-gracehttp-tls")

# Plain gunicorn: its "fast" extra (the gunicorn_h1c C parser) can hold it
# back to an older release when the parser's newest release is not
# installable, and the issue measured gunicorn 27's built-in asgi worker.
REQUIREMENTS = [
    "uvicorn[standard]",
    "hypercorn",
    "daphne",
    "gunicorn",
    "waitress",
    "granian",
    "twisted",
    "matplotlib",
    # WebSockets (bench/ws.py): uvicorn's two implementations (websockets
    # comes with uvicorn[standard]) and the load generator.
    "wsproto",
    "picows",
]

REPORTED = [
    "uvicorn",
    "uvloop",
    "httptools",
    "h11",
    "hypercorn",
    "daphne",
    "gunicorn",
    "gunicorn_h1c",
    "waitress",
    "granian",
    "websockets",
    "wsproto",
    "autobahn",
    "picows",
]

# Reported from gracehttp's virtualenv.
REPORTED_GRACEHTTP = ["gracehttp", "twisted", "httptools", "uvloop", "h2"]


def inVenv():
    """
    @return: whether this interpreter is the peers' virtualenv's.
    @rtype: L{bool}
    """
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def ensure(log=print, tree=REPO, venv=GRACEHTTP_VENV, extras="http2,uvloop"):
    """
    Create the virtualenvs if needed, install the peers when the list of
    requirements changed since the last install, and (re)install gracehttp
    (with its dependencies) from a source tree every time.

    @param log: called with one line of progress at a time.
    @param tree: the gracehttp source tree to install (default: the one
        this benchmark belongs to).
    @type tree: L{str}
    @param venv: the virtualenv gracehttp goes into.
    @param extras: gracehttp's extras to install, comma-separated.
    @raise subprocess.CalledProcessError: an install failed.
    """
    if not os.path.exists(VENV_PYTHON):
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    stamp = os.path.join(VENV, "bench-requirements.sha256")
    wanted = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()
    try:
        with open(stamp) as f:
            installed = f.read().strip()
    except FileNotFoundError:
        installed = None
    pip = [VENV_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if installed != wanted:
        log("installing the peers: " + ", ".join(REQUIREMENTS))
        subprocess.run([*pip, "--upgrade", *REQUIREMENTS], check=True, timeout=900)
        with open(stamp, "w") as f:
            f.write(wanted + "\n")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip[0] = python
    log(f"installing gracehttp[{extras}] from {tree} into {venv}")
    # The first command brings the dependencies (h2 for HTTP/2 too), the
    # second the tree as it is now (the version number does not change with
    # the tree).
    subprocess.run([*pip, f"{tree}[{extras}]"], check=True, timeout=600)
    subprocess.run([*pip, "--no-deps", "--force-reinstall", tree], check=True, timeout=600)


def versions(venv=GRACEHTTP_VENV):
    """
    @param venv: gracehttp's virtualenv.
    @return: the installed version of each reported distribution (run inside
        the virtualenv).
    @rtype: L{dict} of L{str} to L{str}
    """
    from importlib import metadata

    found = {}
    for name in REPORTED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    script = (
        "import sys\n"
        "from importlib import metadata\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        print(name, metadata.version(name))\n"
        "    except metadata.PackageNotFoundError:\n"
        "        print(name, '-')\n"
    )
    output = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-c", script, *REPORTED_GRACEHTTP],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for line in output.splitlines():
        name, version = line.split()
        found[f"{name} (gracehttp's virtualenv)" if name in REPORTED else name] = version
    return found


def reexec():
    """
    Replace this process by the same command run with the virtualenv's
    interpreter.
    """
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(sys.argv[0]), *sys.argv[1:]])
