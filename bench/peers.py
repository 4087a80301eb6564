"""
The peers' virtualenv: create it, install the servers being compared, and
install gracehttp itself from the working tree (a real, non-editable
install, so that C{twist} finds the gracehttp plugin).

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
]

REPORTED = [
    "gracehttp",
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
    "twisted",
]


def inVenv():
    """
    @return: whether this interpreter is the peers' virtualenv's.
    @rtype: L{bool}
    """
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def ensure(log=print):
    """
    Create the virtualenv if needed, install the peers when the list of
    requirements changed since the last install, and (re)install gracehttp
    from the working tree every time.

    @param log: called with one line of progress at a time.
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
        subprocess.run(pip + ["--upgrade"] + REQUIREMENTS, check=True, timeout=900)
        with open(stamp, "w") as f:
            f.write(wanted + "\n")
    log("installing gracehttp from the working tree")
    subprocess.run(
        pip + ["--no-deps", "--force-reinstall", REPO], check=True, timeout=600
    )


def versions():
    """
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
    return found


def reexec():
    """
    Replace this process by the same command run with the virtualenv's
    interpreter.
    """
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(sys.argv[0])] + sys.argv[1:])
