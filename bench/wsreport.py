"""
Turn the raw results of C{bench/ws.py} into markdown tables and the
issue's bar as PASS/FAIL/SKIP lines.
"""

import statistics

from servers import WS_BY_NAME

MIB = 2**20
GRACEHTTP = "gracehttp"

# The bar of issue 10: small-message and 1 MiB echo at least uvicorn's
# with its websockets implementation; less memory than daphne at 1,000
# idle WebSockets.
RATE_PEER, RATE_AT_LEAST = "uvicorn-websockets", 1.0
RATE_SCENARIOS = [("small", "small-message echo"), ("large", "1 MiB echo")]
MEMORY_PEER = "daphne"

# name, connections, message bytes, text, title
SCENARIOS = [
    ("small", 64, 32, True, "Small-message echo (64 connections, 32-byte text messages)"),
    ("large", 4, MIB, False, "1 MiB echo (4 connections, 1 MiB binary messages)"),
]
IDLE_COUNT = 1000


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _runs(results, scenario, server):
    return {
        run["round"]: run
        for run in results["runs"]
        if run["scenario"] == scenario and run["server"] == server and run.get("messages")
    }


def ratio(results, scenario, server, reference=GRACEHTTP):
    """
    @return: the median over rounds of C{server}'s messages/s divided by
        C{reference}'s in the same round, or L{None} if they never ran in
        the same round.
    @rtype: L{float} or L{None}
    """
    own, other = _runs(results, scenario, server), _runs(results, scenario, reference)
    return median([own[r]["rate"] / other[r]["rate"] for r in own if r in other])


def _servers(results):
    seen = []
    for run in results["runs"]:
        if run["server"] not in seen:
            seen.append(run["server"])
    for name in results["memory"]:
        if name not in seen:
            seen.append(name)
    return seen


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def scenarioTable(results, scenario):
    """
    @return: one scenario's markdown table: medians over rounds.
    @rtype: L{str}
    """
    lines = [
        "| server | messages/s | MiB/s | p50 ms | p99 ms | ÷ gracehttp | server CPU "
        "| server waited | client CPU | peak RSS MiB | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in _servers(results):
        runs = [
            run for run in results["runs"] if run["scenario"] == scenario and run["server"] == name
        ]
        if not runs:
            continue
        ok = [run for run in runs if run.get("messages")]
        label = WS_BY_NAME[name].label if name in WS_BY_NAME else name
        cells = [
            label,
            _fmt(median([run["rate"] for run in ok]), ",.0f"),
            _fmt(median([run["mibps"] for run in ok]), ",.1f"),
            _fmt(median([run["p50"] for run in ok]), ".2f"),
            _fmt(median([run["p99"] for run in ok]), ".2f"),
            _fmt(ratio(results, scenario, name), ".2f"),
            _fmt(median([run.get("serverCPU") for run in ok]), ".2f"),
            _fmt(median([run.get("serverWait") for run in ok]), ".2f"),
            _fmt(median([run["clientCPU"] for run in ok]), ".2f"),
            _fmt(max((run["peakRSS"] for run in runs), default=None) / MIB, ".1f"),
            str(sum(run.get("errors", 0) for run in runs) + len(runs) - len(ok)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def memoryTable(results):
    """
    @return: the markdown table of the 1,000 idle WebSockets.
    @rtype: L{str}
    """
    lines = [
        "| server | RSS before MiB | RSS at 1,000 idle MiB | KiB per WebSocket | open / opened |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, idle in results["memory"].items():
        label = WS_BY_NAME[name].label if name in WS_BY_NAME else name
        if "error" in idle:
            lines.append(f"| {label} | - | - | - | {idle['error'][:60]} |")
            continue
        perConnection = (
            (idle["idle"] - idle["before"]) / idle["opened"] / 1024 if idle["opened"] else None
        )
        cells = [
            label,
            f"{idle['before'] / MIB:.1f}",
            f"{idle['idle'] / MIB:.1f}",
            _fmt(perConnection, ".1f"),
            f"{idle['open']} / {idle['opened']}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def bar(results):
    """
    @return: the issue's bar, one C{PASS}/C{FAIL}/C{SKIP} line per
        condition: C{SKIP} when a server of the condition was not in the
        run, C{FAIL} when gracehttp ran but gave no figure.
    @rtype: L{list} of L{str}
    """
    ran = set(_servers(results))
    lines = []
    for scenario, title in RATE_SCENARIOS:
        rate = ratio(results, scenario, GRACEHTTP, RATE_PEER)
        condition = f"{title}: gracehttp ≥ {RATE_AT_LEAST:g} × {RATE_PEER} messages/s"
        if not {GRACEHTTP, RATE_PEER} <= ran:
            lines.append(f"SKIP {condition} (not both in the run)")
        elif rate is None:
            lines.append(f"FAIL {condition}: no figures in the same round")
        else:
            verdict = "PASS" if rate >= RATE_AT_LEAST else "FAIL"
            lines.append(f"{verdict} {condition}: {rate:.2f} ×")
    own, other = results["memory"].get(GRACEHTTP), results["memory"].get(MEMORY_PEER)
    condition = f"1,000 idle WebSockets: gracehttp's RSS < {MEMORY_PEER}'s"
    if own is None or other is None:
        lines.append(f"SKIP {condition} (not both in the run)")
    elif "error" in own or "error" in other or not own["opened"] or not other["opened"]:
        lines.append(f"FAIL {condition}: not both measured")
    else:
        allOpen = own["open"] == own["opened"] == IDLE_COUNT
        verdict = "PASS" if own["idle"] < other["idle"] and allOpen else "FAIL"
        lines.append(
            f"{verdict} {condition}: {own['idle'] / MIB:.1f} MiB vs {other['idle'] / MIB:.1f} MiB"
            f" ({own['open']}/{own['opened']} of {IDLE_COUNT:,} open)"
        )
    return lines


def markdown(results):
    """
    @return: the whole report.
    @rtype: L{str}
    """
    meta = results["meta"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    parts = [
        "# WebSocket benchmark\n",
        f"{meta['date']}, {meta['cpuModel']}, Python {meta['python']}; gracehttp "
        f"{meta['gracehttpCommit']} ({' '.join(meta['gracehttpOptions']) or 'defaults'}); "
        f"{meta['rounds']} round(s) of {meta['duration']:g} s per echo run, "
        f"{meta['seconds']} s in all; server on CPU {meta['serverCPU']}, load generator "
        f"(picows on uvloop) on CPU {meta['clientCPU']}; 1-minute load average "
        f"{meta['loadavgStart']} at the start, {meta['loadavgEnd']} at the end.\n",
        f"Versions: {versions}.\n",
        "Medians over rounds; ÷ gracehttp is the median of the same-round ratios; "
        "CPU is CPU seconds per second during the counted window (a server near 1.0 "
        "is saturated; the load generator stays well below); server waited is the "
        "seconds per second the server was runnable but another process had its "
        "CPU (above a few hundredths, the machine was busy).\n",
    ]
    for scenario, *_rest, title in SCENARIOS:
        parts += [f"## {title}\n", scenarioTable(results, scenario)]
    parts += ["## 1,000 idle WebSockets (first round, fresh server)\n", memoryTable(results)]
    parts += ["## The bar (issue 10)\n", "```", *bar(results), "```\n"]
    if results["failures"]:
        parts += ["## Problems\n", *[f"- {line}" for line in results["failures"]], ""]
    return "\n".join(parts)
