"""
Turn the raw results into the markdown tables, the issue's bar as
PASS/FAIL lines, and the plot.
"""

import statistics

from servers import BY_NAME, SERVERS

MIB = 1024 * 1024

SCENARIOS = [
    # name, target, wrk script, title
    ("hello", "/", None, 'Hello (13-byte "Hello, world!")'),
    ("64k", "/64k", None, "64 KiB response"),
    ("echo", "/echo", "post256k.lua", "Echo of a 256 KiB POST"),
    ("stream", "/stream", None, "Streamed 10 MiB response"),
]

GRACEHTTP = {"asgi": "gracehttp-asgi", "wsgi": "gracehttp-wsgi"}
GRACEHTTP_STOCK = {"asgi": "gracehttp-asgi-stock", "wsgi": "gracehttp-wsgi-stock"}

# The bar of issue 4: (interface, scenarios, peer, gracehttp / peer at least).
BAR = [
    ("asgi", ("hello", "64k"), "uvicorn", 0.7),
    ("asgi", ("hello", "64k"), "gunicorn-asgi", 1.0),
    ("asgi", ("hello", "64k"), "daphne", 4.0),
    ("asgi", ("echo",), "uvicorn", 0.9),
    ("wsgi", ("hello", "64k"), "waitress", 1.2),
    ("wsgi", ("hello", "64k"), "gunicorn-gthread", 2.0),
    ("wsgi", ("hello", "64k"), "twist-web", 3.0),
]
# Issue 13: a request through a mount costs at most 5% of hello throughput:
# (interface, the mounted gracehttp server, gracehttp / mounted at most).
MOUNT_BAR = [
    ("asgi", "gracehttp-asgi-mounted", 1 / 0.95),
    ("wsgi", "gracehttp-wsgi-mounted", 1 / 0.95),
]
# Issue 14, stock rows (every server at its defaults, access logs as they
# come): (interface, scenarios, stock peer, stock gracehttp / peer at least).
STOCK_BAR = [
    ("asgi", ("hello", "64k"), "uvicorn-stock", 1.0),
    ("wsgi", ("hello", "64k"), "waitress-stock", 1.2),
    ("wsgi", ("hello", "64k"), "gunicorn-gthread-stock", 2.0),
]
# Issue 14, access logs off: (interface, scenarios, peer, gracehttp / peer at
# least).
OFF_BAR = [
    ("asgi", ("hello", "64k", "echo"), "uvicorn", 1.0),
]
# Issue 14: the default access log costs at most 10% of hello throughput:
# stock gracehttp / gracehttp with the access log off, at least.
ACCESS_LOG_BAR = 0.9
IDLE_RSS_LIMIT = 1.5  # x uvicorn's RSS at 1,000 idle keep-alive connections
SLOW_READER_GROWTH = 0.10  # RSS growth across a streamed 10 MiB response


def _runs(results, scenario, server):
    return {
        run["round"]: run
        for run in results["runs"]
        if run["scenario"] == scenario and run["server"] == server and run["rps"]
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(results, scenario, server):
    """
    @return: the medians over rounds for one server and scenario (C{rps},
        C{p99}), the highest peak RSS, the total errors, the median of the
        per-round ratio C{peer / gracehttp} of the same interface
        (C{ratio}), and the number of rounds; L{None} if it never ran.
    @rtype: L{dict} or L{None}
    """
    runs = _runs(results, scenario, server)
    if not runs:
        return None
    own = _runs(results, scenario, _own(BY_NAME[server]))
    ratios = [runs[r]["rps"] / own[r]["rps"] for r in runs if r in own]
    return {
        "rps": median(run["rps"] for run in runs.values()),
        "low": min(run["rps"] for run in runs.values()),
        "high": max(run["rps"] for run in runs.values()),
        "p99": median(run["p99"] for run in runs.values()),
        "rss": max(run["peakRSS"] for run in runs.values()),
        "errors": sum(run["errors"] for run in runs.values()),
        "ratio": median(ratios),
        "rounds": len(runs),
    }


def _own(server):
    """
    @return: the gracehttp row a server's ratio is taken against: the stock
        one of its interface for a stock row, else the one with the access
        log off.
    """
    return (GRACEHTTP_STOCK if server.stock else GRACEHTTP)[server.interface]


def _fmt(value, pattern, missing="-"):
    return missing if value is None else pattern.format(value)


def markdown(results):
    """
    @return: the whole report in markdown: one table per scenario, the
        memory table, the bar, and how it was measured.
    @rtype: L{str}
    """
    meta = results["meta"]
    lines = [
        "# gracehttp benchmark",
        "",
        f"{meta['date']}; {meta['rounds']} round(s); wrk `-t1 -c64`, "
        f"{meta['duration']} s per run (echo and stream {meta['shortDuration']} s); "
        f"server on CPU {meta['serverCPU']}, wrk on CPU {meta['clientCPU']}; "
        f"{meta['cpuModel']}; Python {meta['python']}; gracehttp "
        f"{meta['gracehttpCommit']}; {meta['seconds']} s in all; 1-minute load "
        f"average {meta['loadavgStart']:.2f} at the start, "
        f"{meta['loadavgEnd']:.2f} at the end (which counts the benchmark's "
        "own servers and wrk).",
        "",
        "req/s and p99 are medians over the rounds; RSS is the highest total "
        "RSS of the server's processes sampled during the runs; "
        "`÷ gracehttp` is the median over rounds of the peer's req/s divided "
        "by gracehttp's (same interface, same round; a stock row's by stock "
        "gracehttp's). Rows marked (stock) run each server with all its "
        "defaults, as its documentation starts it, access log included "
        "(gracehttp, uvicorn and daphne log each request; hypercorn, gunicorn "
        "and waitress do not by default), output to a file; the other rows "
        "run with access logs off.",
        "",
    ]
    # Only the figure at the start tells of other work: the one at the end
    # counts the benchmark's own servers' threads and wrk.
    if meta["loadavgStart"] > meta["cpus"]:
        lines += [
            f"**The machine was busy**: the load average at the start passed "
            f"its {meta['cpus']} CPUs, so other processes competed with the "
            "servers and wrk. The absolute figures are low and noisy (see each "
            "row's range over the rounds); take the same-round ratios with care "
            "too.",
            "",
        ]
    for scenario, _, _, title in SCENARIOS:
        lines += [
            f"## {title}",
            "",
            "| server | interface | req/s | rounds' range | p99 | peak RSS "
            "| ÷ gracehttp | errors |",
            "|---|---|--:|--:|--:|--:|--:|--:|",
        ]
        for server in SERVERS:
            s = summary(results, scenario, server.name)
            if s is None:
                continue
            lines.append(
                f"| {server.label} | {server.interface.upper()} | {s['rps']:,.0f} | "
                f"{s['low']:,.0f}–{s['high']:,.0f} | "
                f"{_fmt(s['p99'], '{:.2f} ms')} | {s['rss'] / MIB:.1f} MiB | "
                f"{_fmt(s['ratio'], '{:.2f}×')} | {s['errors']} |"
            )
        lines.append("")
    lines += [
        "## Memory",
        "",
        "1,000 idle keep-alive connections (one `GET /` each, then idle), and "
        "a slow reader (64 KiB every 10 ms through a 64 KiB receive buffer) of "
        "the streamed 10 MiB response, each on a freshly started server.",
        "",
        "| server | RSS before | RSS, 1,000 idle | still open "
        "| slow reader: RSS before | peak | growth |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for server in SERVERS:
        memory = results["memory"].get(server.name)
        if not memory:
            continue
        idle, slow = memory["idle"], memory["slow"]
        lines.append(
            f"| {server.label} | {idle['before'] / MIB:.1f} MiB | "
            f"{max(idle['idle'], idle['peak']) / MIB:.1f} MiB | "
            f"{idle['open']} / {idle['opened']} | {slow['before'] / MIB:.1f} MiB | "
            f"{slow['peak'] / MIB:.1f} MiB | {_fmt(slow['growth'], '{:+.1%}')}"
            + ("" if slow["received"] >= 10 * MIB else " (incomplete)")
            + " |"
        )
    lines += ["", "## The bar (issues 4, 13 and 14)", "", "```", *barLines(results), "```", ""]
    if results["failures"]:
        lines += ["## Failures", ""] + [f"- {f}" for f in results["failures"]] + [""]
    lines += [
        "## Versions",
        "",
        ", ".join(f"{name} {version}" for name, version in meta["versions"].items()),
        "",
    ]
    return "\n".join(lines)


def _roundRatios(results, scenario, peer, interface, own=None):
    own = _runs(results, scenario, own or GRACEHTTP[interface])
    theirs = _runs(results, scenario, peer)
    return [own[r]["rps"] / theirs[r]["rps"] for r in own if r in theirs]


def barLines(results):
    """
    @return: one C{PASS}, C{FAIL} or C{SKIP} line per condition of the bar.
    @rtype: L{list} of L{str}
    """
    lines = []
    for interface, scenarios, peer, need in BAR:
        for scenario in scenarios:
            ratio = median(_roundRatios(results, scenario, peer, interface))
            what = f"{interface.upper()} {scenario}: gracehttp / {BY_NAME[peer].label} >= {need}"
            if ratio is None:
                lines.append(f"SKIP {what} (not measured)")
            else:
                verdict = "PASS" if ratio >= need else "FAIL"
                lines.append(f"{verdict} {what}: {ratio:.2f}")
    lines += _stockBarLines(results)
    for interface, mounted, limit in MOUNT_BAR:
        ratio = median(_roundRatios(results, "hello", mounted, interface))
        what = f"{interface.upper()} hello: gracehttp / gracehttp through a mount <= {limit:.3f}"
        if ratio is None:
            lines.append(f"SKIP {what} (not measured)")
        else:
            lines.append(f"{'PASS' if ratio <= limit else 'FAIL'} {what}: {ratio:.3f}")
    uvicorn = results["memory"].get("uvicorn")
    for interface, name in GRACEHTTP.items():
        own = results["memory"].get(name)
        what = (
            f"{interface.upper()} RSS at 1,000 idle keep-alive connections "
            f"<= {IDLE_RSS_LIMIT} x uvicorn's"
        )
        if not (own and uvicorn):
            lines.append(f"SKIP {what} (not measured)")
        else:
            ratio = _idleRSS(own) / _idleRSS(uvicorn)
            verdict = "PASS" if ratio <= IDLE_RSS_LIMIT else "FAIL"
            lines.append(f"{verdict} {what}: {ratio:.2f}")
        what = (
            f"{interface.upper()} RSS flat (+-{SLOW_READER_GROWTH:.0%}) across "
            "a streamed 10 MiB response to a slow reader"
        )
        if not own:
            lines.append(f"SKIP {what} (not measured)")
        else:
            slow = own["slow"]
            ok = slow["received"] >= 10 * MIB and abs(slow["growth"]) <= SLOW_READER_GROWTH
            lines.append(
                f"{'PASS' if ok else 'FAIL'} {what}: {slow['growth']:+.1%}"
                + ("" if slow["received"] >= 10 * MIB else " (incomplete)")
            )
    return lines


def _atLeast(results, what, scenario, peer, interface, need, own=None):
    """
    @return: the C{PASS}, C{FAIL} or C{SKIP} line of "gracehttp / peer >=
        need".
    """
    ratio = median(_roundRatios(results, scenario, peer, interface, own))
    if ratio is None:
        return f"SKIP {what} (not measured)"
    return f"{'PASS' if ratio >= need else 'FAIL'} {what}: {ratio:.2f}"


def _stockBarLines(results):
    """
    @return: issue 14's lines: stock against stock, access logs off
        against uvicorn, and what the default access log costs.
    """
    lines = []
    for interface, scenarios, peer, need in STOCK_BAR:
        for scenario in scenarios:
            what = (
                f"{interface.upper()} {scenario}: stock gracehttp / {BY_NAME[peer].label} >= {need}"
            )
            own = GRACEHTTP_STOCK[interface]
            lines.append(_atLeast(results, what, scenario, peer, interface, need, own))
    for interface, scenarios, peer, need in OFF_BAR:
        for scenario in scenarios:
            what = (
                f"{interface.upper()} {scenario}: gracehttp / {BY_NAME[peer].label} >= {need} "
                "(access logs off)"
            )
            lines.append(_atLeast(results, what, scenario, peer, interface, need))
    for interface, stock in GRACEHTTP_STOCK.items():
        what = (
            f"{interface.upper()} hello: gracehttp with its default access log / "
            f"with --access-log off >= {ACCESS_LOG_BAR}"
        )
        lines.append(
            _atLeast(results, what, "hello", GRACEHTTP[interface], interface, ACCESS_LOG_BAR, stock)
        )
    return lines


def _idleRSS(memory):
    return max(memory["idle"]["idle"], memory["idle"]["peak"])


def plot(results, path):
    """
    Draw req/s per server for each scenario and the RSS at 1,000 idle
    connections, gracehttp highlighted, into a PNG.

    @param path: where to write the PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(scenario, title) for scenario, _, _, title in SCENARIOS] + [("memory", None)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)))
    for ax, (scenario, title) in zip(axes, panels, strict=True):
        labels, values, colours = [], [], []
        for server in SERVERS:
            if scenario == "memory":
                memory = results["memory"].get(server.name)
                value = _idleRSS(memory) / MIB if memory else None
            else:
                s = summary(results, scenario, server.name)
                value = s["rps"] if s else None
            if value is None:
                continue
            labels.append(server.label)
            values.append(value)
            colours.append(
                ("#d62728" if server.interface == "asgi" else "#1f77b4")
                if server.gracehttp
                else "#9a9a9a"
            )
        positions = range(len(labels))
        ax.barh(positions, values, color=colours)
        ax.set_yticks(list(positions), labels, fontsize=8)
        ax.invert_yaxis()
        if scenario == "memory":
            ax.set_title(
                "RSS with 1,000 idle keep-alive connections (MiB, lower is better)", fontsize=10
            )
        else:
            ax.set_title(f"{title}: requests/s (median, higher is better)", fontsize=10)
        for position, value in zip(positions, values, strict=True):
            ax.text(value, position, f" {value:,.0f}", va="center", fontsize=7)
        ax.margins(x=0.15)
    fig.suptitle(
        f"gracehttp and its peers, one process on one core ({results['meta']['date']})", fontsize=11
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=90)
    plt.close(fig)
