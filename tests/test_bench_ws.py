"""
The verdicts of the WebSocket benchmark and conformance scripts in
C{bench/}: the Autobahn tally per case group and what counts as a failure,
and the issue's bar (PASS, FAIL or SKIP) from the benchmark's figures.
The scripts themselves need their virtualenvs and minutes; what they
conclude from the figures is checked here on made-up figures.
"""

import importlib
import json
import os
import shutil
import sys
import tempfile
import unittest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _bench(name):
    sys.path.insert(0, BENCH)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(BENCH)


conformance = _bench("conformance")
wsreport = _bench("wsreport")

MIB = 2**20


class TallyTests(unittest.TestCase):
    """
    C{conformance.tally} and C{conformance.problems} read the suite's
    index entries.
    """

    def setUp(self):
        self.workDir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.workDir)
        outdir = os.path.join(self.workDir, "group-9")
        os.makedirs(outdir)
        with open(os.path.join(outdir, "case_9_3_1.json"), "w") as f:
            json.dump({"result": "Did not receive\n message within 100 seconds."}, f)
        self.groups = [
            (
                "6",
                {
                    "seconds": 7.2,
                    "finished": True,
                    "cases": {
                        "6.1.1": {"behavior": "OK"},
                        "6.4.1": {"behavior": "NON-STRICT"},
                        "6.4.2": {"behavior": "INFORMATIONAL"},
                    },
                },
            ),
            (
                "9",
                {
                    "seconds": 30.0,
                    "finished": True,
                    "cases": {
                        "9.3.1": {"behavior": "FAILED", "reportfile": "case_9_3_1.json"},
                        "9.1.1": {"behavior": "OK"},
                    },
                },
            ),
            ("12", {"seconds": 900.0, "finished": False, "cases": {}}),
        ]

    def test_countsPerGroup(self):
        """
        Each group's line counts its cases by behaviour; the total adds
        them up.
        """
        lines = conformance.tally(self.groups).splitlines()
        self.assertEqual(lines[2], "| 6 | 3 | 1 | 1 | 1 | 0 | 0 | 7 |")
        self.assertEqual(lines[3], "| 9 | 2 | 1 | 0 | 0 | 0 | 1 | 30 |")
        self.assertEqual(lines[4], "| 12 | did not finish | 0 | 0 | 0 | 0 | 0 | 900 |")
        self.assertEqual(lines[5], "| all | 5 | 2 | 1 | 1 | 0 | 1 |  |")

    def test_problems(self):
        """
        A FAILED case is listed with the suite's reason on one line, and a
        group that did not finish is a problem; NON-STRICT and
        INFORMATIONAL are not.
        """
        self.assertEqual(
            conformance.problems(self.groups, self.workDir),
            [
                "case 9.3.1: FAILED: Did not receive message within 100 seconds.",
                "group 12 did not finish within its time limit",
            ],
        )

    def test_noProblems(self):
        """
        Groups whose cases are all OK, NON-STRICT, INFORMATIONAL or
        UNIMPLEMENTED give no problem.
        """
        groups = [
            (
                "12",
                {
                    "seconds": 1.0,
                    "finished": True,
                    "cases": {"12.1.1": {"behavior": "UNIMPLEMENTED"}},
                },
            )
        ]
        self.assertEqual(conformance.problems(groups, self.workDir), [])


def _results(rates, idle, large=None):
    """
    Benchmark results with one small-message and one 1 MiB run per server
    and round.

    @param rates: C{{server: [messages/s in round 1, round 2, ...]}}.
    @param idle: C{{server: (RSS bytes, open connections)}}.
    @param large: the 1 MiB echo's rates in the same form (default:
        C{rates}).
    """
    runs = [
        {"server": server, "scenario": scenario, "round": i + 1, "rate": rate, "messages": 1}
        for scenario, table in (("small", rates), ("large", rates if large is None else large))
        for server, values in table.items()
        for i, rate in enumerate(values)
    ]
    memory = {
        server: {"before": 0, "idle": rss, "opened": count, "open": count, "errors": 0}
        for server, (rss, count) in idle.items()
    }
    return {"runs": runs, "memory": memory}


class BarTests(unittest.TestCase):
    """
    C{wsreport.bar} gives the issue's verdicts.
    """

    def test_pass(self):
        """
        gracehttp at least as fast as uvicorn (websockets) in the median
        same-round ratio, and smaller than daphne with all 1,000 open:
        two PASS lines.
        """
        results = _results(
            {"gracehttp": [10, 12, 11], "uvicorn-websockets": [10, 13, 10], "daphne": [5, 5, 5]},
            {"gracehttp": (40 * MIB, 1000), "daphne": (70 * MIB, 1000)},
        )
        lines = wsreport.bar(results)
        self.assertTrue(lines[0].startswith("PASS small-message echo"), lines[0])
        self.assertIn("1.00 ×", lines[0])
        self.assertTrue(lines[1].startswith("PASS 1 MiB echo"), lines[1])
        self.assertTrue(lines[2].startswith("PASS 1,000 idle"), lines[2])

    def test_fail(self):
        """
        Slower than uvicorn in most rounds, or more memory than daphne:
        FAIL.
        """
        results = _results(
            {"gracehttp": [9, 12, 9], "uvicorn-websockets": [10, 10, 10]},
            {"gracehttp": (80 * MIB, 1000), "daphne": (70 * MIB, 1000)},
        )
        lines = wsreport.bar(results)
        self.assertTrue(lines[0].startswith("FAIL small-message echo"), lines[0])
        self.assertTrue(lines[2].startswith("FAIL 1,000 idle"), lines[2])

    def test_failLarge(self):
        """
        As fast as uvicorn on small messages but slower on 1 MiB messages:
        the 1 MiB line FAILs alone.
        """
        results = _results(
            {"gracehttp": [10, 10], "uvicorn-websockets": [10, 10]},
            {},
            large={"gracehttp": [3, 3], "uvicorn-websockets": [5, 5]},
        )
        lines = wsreport.bar(results)
        self.assertTrue(lines[0].startswith("PASS small-message echo"), lines[0])
        self.assertTrue(lines[1].startswith("FAIL 1 MiB echo"), lines[1])
        self.assertIn("0.60 ×", lines[1])

    def test_failWhenConnectionsDropped(self):
        """
        Less memory than daphne does not pass if gracehttp did not keep
        all 1,000 WebSockets open.
        """
        results = _results({}, {"gracehttp": (40 * MIB, 990), "daphne": (70 * MIB, 1000)})
        self.assertTrue(wsreport.bar(results)[2].startswith("FAIL"))

    def test_failWithoutFigures(self):
        """
        gracehttp in the run but without a single echo (no WebSocket
        support): FAIL, not SKIP.
        """
        results = _results({"uvicorn-websockets": [10]}, {"daphne": (70 * MIB, 1000)})
        results["runs"].append(
            {"server": "gracehttp", "scenario": "small", "round": 1, "messages": 0, "errors": 64}
        )
        results["memory"]["gracehttp"] = {"error": "no figures"}
        lines = wsreport.bar(results)
        self.assertTrue(lines[0].startswith("FAIL"), lines[0])
        self.assertTrue(lines[2].startswith("FAIL"), lines[2])

    def test_skip(self):
        """
        A condition whose peer was not in the run is skipped.
        """
        results = _results({"gracehttp": [10]}, {"gracehttp": (40 * MIB, 1000)})
        lines = wsreport.bar(results)
        self.assertTrue(lines[0].startswith("SKIP"), lines[0])
        self.assertTrue(lines[1].startswith("SKIP"), lines[1])
        self.assertTrue(lines[2].startswith("SKIP"), lines[2])
