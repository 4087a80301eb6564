"""
WebSocket conformance (issue 10): the Autobahn Testsuite's C{fuzzingclient}
against an echo server, gracehttp or one of its peers.

    python3 bench/conformance.py                               # gracehttp, this tree
    python3 bench/conformance.py --tree ../other-checkout      # gracehttp from another tree
    python3 bench/conformance.py --server uvicorn-websockets   # a peer, for comparison
    python3 bench/conformance.py --cases 1,2,3,4,5,6,7,10      # skip the slow groups

The Autobahn Testsuite (C{autobahntestsuite} on PyPI) runs only on Python
2.7.  The script finds one (C{--python2}, else C{python2.7} on the C{PATH},
else pyenv's C{~/.pyenv/versions/2.7.*}), makes a Python 2.7 virtualenv
C{bench/.venv-autobahn} with the pinned versions below (through
C{virtualenv} 20.21, the last release that creates Python 2 environments,
itself in C{bench/.venv-autobahn-tool}; about 30 s, and one of the
packages, C{wsaccel}, is compiled, so a C compiler and Python 2.7's headers
are needed), and the servers' virtualenvs as C{bench/run.py} does
(C{bench/.venv-peers}, and C{bench/.venv-gracehttp} with gracehttp
installed from C{--tree}).

It is not part of C{.ci/run}: a fresh machine has no Python 2.7 unless its
image brings one, and the run takes minutes.

The server (C{apps:asgi_app}, which echoes every WebSocket message on any
path) is started once on 127.0.0.1; then C{wstest -m fuzzingclient} runs
once per case group, each under a time limit, and the script prints, per
group, how many cases came out OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED
and FAILED (from the suite's C{index.json}), the time the group took, and
the failed cases with the suite's reason.  Groups 12 and 13 are the
permessage-deflate cases (RFC 7692): the suite offers the extension in
them.  The tally also goes to C{bench/results/autobahn-SERVER.md}; the
suite's HTML and JSON reports stay in a temporary directory named at the
start.  It exits 1 if any case FAILED, a group did not finish in its time,
or the server died.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import peers
import servers

TOOL_VENV = os.path.join(peers.BENCH, ".venv-autobahn-tool")
VENV = os.path.join(peers.BENCH, ".venv-autobahn")
WSTEST = os.path.join(VENV, "bin", "wstest")

# What installs on Python 2.7 from PyPI (checked when this was written);
# every version pinned so that a later release cannot break the install.
REQUIREMENTS = [
    "autobahntestsuite==25.10.1",
    "autobahn==0.10.9",
    "txaio==2.1.0",
    "wsaccel==0.6.6",
    "ujson==2.0.3",
    "Twisted==19.10.0",
    "zope.interface==4.6.0",
    "Automat==22.10.0",
    "attrs==21.4.0",
    "constantly==15.1.0",
    "hyperlink==21.0.0",
    "idna==2.10",
    "incremental==16.10.1",
    "PyHamcrest==1.10.1",
    "six==1.16.0",
    "typing==3.10.0.0",
    "klein==17.10.0",
    "Werkzeug==1.0.1",
    "Jinja2==2.11.3",
    "MarkupSafe==1.1.1",
    "pyOpenSSL==19.1.0",
    "cryptography==3.3.2",
    "cffi==1.15.1",
    "pycparser==2.21",
    "enum34==1.1.10",
    "ipaddress==1.0.23",
    "service-identity==18.1.0",
    "pyasn1==0.5.1",
    "pyasn1-modules==0.3.0",
    "unittest2==1.1.0",
    "argparse==1.4.0",
    "traceback2==1.4.0",
    "linecache2==1.0.0",
    "setuptools==44.0.0",
]
VIRTUALENV = "virtualenv==20.21.1"

DEFAULT_CASES = "1,2,3,4,5,6,7,9,10,12,13"
# Seconds each group may take before it is stopped: 9 (large and many
# messages) and 12-13 (compression, about 450 cases) are the slow ones.
GROUP_LIMITS = {"9": 600, "12": 1200, "13": 1500}
DEFAULT_LIMIT = 180

BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def log(message):
    sys.stderr.write(f"[autobahn {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def parseArgs(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [s.name for s in servers.WS_SERVERS]
    parser.add_argument(
        "--server", default="gracehttp", choices=names, help="the echo server (default gracehttp)"
    )
    parser.add_argument("--tree", default=peers.REPO, help="the gracehttp tree to install")
    parser.add_argument(
        "--cases", default=DEFAULT_CASES, help=f"case groups, comma-separated ({DEFAULT_CASES})"
    )
    parser.add_argument("--python2", help="a Python 2.7 interpreter for the suite")
    parser.add_argument("--no-install", action="store_true", help="use the virtualenvs as they are")
    return parser.parse_args(argv)


class UsageError(Exception):
    """
    Something the user must fix; its message is printed alone.
    """


def findPython2(given):
    """
    @param given: the C{--python2} argument, or L{None}.
    @return: the path of a Python 2.7 interpreter that runs (pyenv's shims
        run only where pyenv selects 2.7, so each candidate is tried).
    @rtype: L{str}
    @raise UsageError: none was found.
    """
    candidates = [given] if given else []
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python")))
    candidates += [shutil.which("python2.7") or ""]
    for candidate in candidates:
        try:
            version = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (2, 7))"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except OSError:
            continue
        if version == "True":
            return candidate
    raise UsageError("no Python 2.7 found: give one with --python2")


def ensureSuite(python2):
    """
    Create C{bench/.venv-autobahn} (Python 2.7) with the pinned suite,
    unless it has exactly these pins already.

    @param python2: the Python 2.7 interpreter.
    """
    stamp = os.path.join(VENV, "bench-requirements.sha256")
    wanted = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()
    try:
        with open(stamp) as f:
            if f.read().strip() == wanted and os.path.exists(WSTEST):
                return
    except FileNotFoundError:
        pass
    toolPython = os.path.join(TOOL_VENV, "bin", "python")
    if not os.path.exists(toolPython):
        log(f"creating {TOOL_VENV} with {VIRTUALENV}")
        subprocess.run([sys.executable, "-m", "venv", TOOL_VENV], check=True)
        subprocess.run(
            [toolPython, "-m", "pip", "install", "--quiet", VIRTUALENV], check=True, timeout=600
        )
    log(f"creating {VENV} ({python2})")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run(
        [toolPython, "-m", "virtualenv", "--quiet", "-p", python2, VENV], check=True, timeout=300
    )
    log("installing the Autobahn Testsuite (about 30 s)")
    pip = os.path.join(VENV, "bin", "pip")
    subprocess.run(
        [pip, "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
        check=True,
        timeout=900,
    )
    with open(stamp, "w") as f:
        f.write(wanted + "\n")


def runGroup(group, running, workDir):
    """
    Run C{wstest -m fuzzingclient} for the cases C{group.*} against the
    running server, within the group's time limit.

    @param group: the case group, e.g. C{"9"}.
    @param running: the server.
    @type running: L{servers.Running}
    @param workDir: where the spec and the reports go.
    @return: C{seconds}, C{finished} (the suite wrote its report in time)
        and C{cases}: the suite's entry for each case (C{behavior},
        C{reportfile}, ...).
    @rtype: L{dict}
    """
    outdir = os.path.join(workDir, "group-" + group)
    spec = {
        "outdir": outdir,
        "servers": [
            {"agent": running.server.name, "url": f"ws://{servers.HOST}:{running.port}/echo"}
        ],
        "cases": [group + ".*"],
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }
    specPath = os.path.join(workDir, f"spec-{group}.json")
    with open(specPath, "w") as f:
        json.dump(spec, f)
    limit = GROUP_LIMITS.get(group, DEFAULT_LIMIT)
    started = time.monotonic()
    with open(os.path.join(workDir, f"wstest-{group}.log"), "wb") as output:
        process = subprocess.Popen(
            [WSTEST, "-m", "fuzzingclient", "-s", specPath],
            cwd=workDir,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            process.wait(limit)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    seconds = time.monotonic() - started
    index = os.path.join(outdir, "index.json")
    if not os.path.exists(index):
        return {"seconds": seconds, "finished": False, "cases": {}}
    with open(index) as f:
        cases = json.load(f).get(running.server.name, {})
    return {"seconds": seconds, "finished": True, "cases": cases}


def reason(outdir, entry):
    """
    @return: the suite's one-line account of a case that did not pass
        (its C{result} text), or C{"?"}.
    @rtype: L{str}
    """
    try:
        with open(os.path.join(outdir, entry["reportfile"])) as f:
            report = json.load(f)
    except (OSError, KeyError, ValueError):
        return "?"
    return " ".join(str(report.get("result", "?")).split())[:200]


def tally(groups):
    """
    @param groups: L{runGroup}'s result for each group, in order.
    @type groups: L{list} of C{(group, result)}
    @return: the markdown table, one line per group and a total.
    @rtype: L{str}
    """
    header = ["group", "cases", *BEHAVIORS, "seconds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals = dict.fromkeys(BEHAVIORS, 0)
    for group, result in groups:
        counts = dict.fromkeys(BEHAVIORS, 0)
        for entry in result["cases"].values():
            behavior = entry.get("behavior", "FAILED")
            counts[behavior if behavior in counts else "FAILED"] += 1
        for name in BEHAVIORS:
            totals[name] += counts[name]
        cases = str(len(result["cases"])) if result["finished"] else "did not finish"
        cells = [group, cases, *(str(counts[b]) for b in BEHAVIORS), f"{result['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["all", str(sum(totals.values())), *(str(totals[b]) for b in BEHAVIORS), ""]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def problems(groups, workDir):
    """
    @return: one line per case that FAILED (with the suite's reason) and
        per group that did not finish.
    @rtype: L{list} of L{str}
    """
    found = []
    for group, result in groups:
        if not result["finished"]:
            found.append(f"group {group} did not finish within its time limit")
        outdir = os.path.join(workDir, "group-" + group)
        for case, entry in sorted(result["cases"].items(), key=lambda item: _caseKey(item[0])):
            if entry.get("behavior") not in BEHAVIORS[:4]:
                found.append(f"case {case}: {entry.get('behavior')}: {reason(outdir, entry)}")
    return found


def _caseKey(case):
    return [int(part) if part.isdigit() else part for part in case.split(".")]


def main(argv):
    args = parseArgs(argv)
    try:
        python2 = findPython2(args.python2)
    except UsageError as e:
        sys.stderr.write(f"conformance.py: {e}\n")
        return 1
    if not args.no_install:
        ensureSuite(python2)
        peers.ensure(log, tree=os.path.abspath(args.tree))
    elif not os.path.exists(WSTEST):
        sys.stderr.write(f"conformance.py: {WSTEST} is missing: run without --no-install\n")
        return 1
    workDir = tempfile.mkdtemp(prefix="gracehttp-autobahn-")
    log(f"reports and logs in {workDir}")
    server = servers.WS_BY_NAME[args.server]
    running = servers.start(server, workDir, servers.gracehttpExtraOptions(), None)
    groups = []
    try:
        for group in args.cases.split(","):
            log(f"{server.name}: cases {group}.*")
            result = runGroup(group.strip(), running, workDir)
            groups.append((group.strip(), result))
            log(f"{group}.*: {len(result['cases'])} cases in {result['seconds']:.0f} s")
            if running.process.poll() is not None:
                break
    finally:
        died = running.process.poll() is not None
        running.stop()
    text = report(server, args, groups, problems(groups, workDir), died)
    sys.stdout.write(text)
    path = os.path.join(peers.BENCH, "results", f"autobahn-{server.name}.md")
    with open(path, "w") as f:
        f.write(text)
    log(f"wrote {path}")
    return 1 if died or problems(groups, workDir) else 0


def report(server, args, groups, found, died):
    """
    @return: the markdown report: what ran, the tally, and what failed.
    @rtype: L{str}
    """
    lines = [
        f"# Autobahn Testsuite: {server.label}",
        "",
        f"`python3 bench/conformance.py --server {server.name} --cases {args.cases}`"
        + (f" (gracehttp from {_commit(args.tree)})" if server.gracehttp else ""),
        f"on {time.strftime('%Y-%m-%d')}, autobahntestsuite 25.10.1 (fuzzingclient).",
        "",
        tally(groups),
    ]
    if died:
        lines.append("The server died during the run.\n")
    lines.append("No case FAILED.\n" if not found else "Not passed:\n")
    lines += [f"- {line}" for line in found]
    return "\n".join(lines) + "\n"


def _commit(tree):
    result = subprocess.run(
        ["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or tree


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
