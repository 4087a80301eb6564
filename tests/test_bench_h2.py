"""
The verdicts of the HTTP/2 benchmark in C{bench/h2bench.py}: how it reads
C{h2load}'s output, and the issue's bar (PASS, FAIL or SKIP) from made-up
figures.  The benchmark itself needs its virtualenvs, C{h2load} and
minutes.
"""

import importlib
import os
import sys
import unittest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _bench(name):
    sys.path.insert(0, BENCH)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(BENCH)


h2bench = _bench("h2bench")

MIB = 2**20

# What h2load 1.52 printed for 20 requests over h2c.
OUTPUT = """starting benchmark...
spawning thread #0: 2 total client(s). 20 total requests
Application protocol: h2c
progress: 100% done

finished in 161.60ms, 123.76 req/s, 8.99KB/s
requests: 20 total, 20 started, 20 done, 20 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 20 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.45KB (1488) total, 122B (122) headers (space savings 90.62%), 860B (860) data
                     min         max         mean         sd        +/- sd
time for request:     1.26ms    148.90ms     67.34ms     68.02ms    75.00%
time for connect:      105us       236us       171us        93us   100.00%
time to 1st byte:   116.50ms    149.14ms    132.82ms     23.08ms   100.00%
req/s           :      66.43       83.70       75.07       12.21   100.00%
"""


class ParseTests(unittest.TestCase):
    """
    C{h2bench.parseH2load} reads the rate, the outcome counts, the
    protocol and the request times.
    """

    def test_figures(self):
        """A clean run: its rate, counts, protocol and times in milliseconds."""
        figures = h2bench.parseH2load(OUTPUT)
        self.assertEqual(
            figures,
            {
                "rate": 123.76,
                "succeeded": 20,
                "failed": 0,
                "protocol": "h2c",
                "max": 148.90,
                "mean": 67.34,
            },
        )

    def test_failures(self):
        """Errored and timed-out requests and answers other than 2xx count as failed."""
        output = OUTPUT.replace(
            "20 succeeded, 0 failed, 0 errored, 0 timeout",
            "17 succeeded, 1 failed, 1 errored, 1 timeout",
        ).replace("20 2xx, 0 3xx, 0 4xx, 0 5xx", "15 2xx, 0 3xx, 2 4xx, 0 5xx")
        figures = h2bench.parseH2load(output)
        self.assertEqual((figures["succeeded"], figures["failed"]), (17, 5))

    def test_microseconds(self):
        """Request times in microseconds are turned into milliseconds."""
        output = OUTPUT.replace("1.26ms    148.90ms     67.34ms", "126us    900us     500us")
        figures = h2bench.parseH2load(output)
        self.assertAlmostEqual(figures["mean"], 0.5)
        self.assertAlmostEqual(figures["max"], 0.9)

    def test_unreadable(self):
        """Output without the summary (h2load could not connect) is an error."""
        figures = h2bench.parseH2load("starting benchmark...\nNo protocol negotiated.\n")
        self.assertIn("error", figures)


def _results(rates, memory=()):
    """
    @param rates: C{{server: [requests/s of each (round, pass)]}}, the same
        for every scenario.
    @param memory: C{(pass 1 RSS, pass 2 RSS)} of each of gracehttp's
        rounds.
    """
    runs = [
        {"server": server, "scenario": scenario, "round": 1, "pass": i + 1, "rate": rate}
        for scenario, _, _ in h2bench.SCENARIOS
        for server, values in rates.items()
        for i, rate in enumerate(values)
    ]
    return {
        "runs": runs,
        "memory": [
            {"server": "gracehttp", "round": r + 1, "ready": 0, "pass1": one, "pass2": two}
            for r, (one, two) in enumerate(memory)
        ],
    }


class BarTests(unittest.TestCase):
    """
    C{h2bench.bar} gives the issue's verdicts: one line per scenario, then
    memory.
    """

    def test_pass(self):
        """Ahead of hypercorn in the median same-pass ratio, RSS within 5%: all PASS."""
        results = _results(
            {"gracehttp": [10, 10, 10], "hypercorn": [8, 11, 9]}, [(50 * MIB, 52 * MIB)]
        )
        lines = h2bench.bar(results, ["gracehttp", "hypercorn"])
        self.assertEqual([line.split()[0] for line in lines], ["PASS"] * 4, lines)
        self.assertIn("0.90", lines[0])

    def test_fail(self):
        """Behind hypercorn, or RSS grown past 5% and 2 MiB in the second pass: FAIL."""
        results = _results({"gracehttp": [10, 10], "hypercorn": [12, 9]}, [(50 * MIB, 56 * MIB)])
        lines = h2bench.bar(results, ["gracehttp", "hypercorn"])
        self.assertEqual([line.split()[0] for line in lines], ["FAIL"] * 4, lines)

    def test_skip(self):
        """Without hypercorn, or without a second pass: SKIP."""
        results = _results({"gracehttp": [10]})
        lines = h2bench.bar(results, ["gracehttp"])
        self.assertEqual([line.split()[0] for line in lines], ["SKIP"] * 4, lines)
