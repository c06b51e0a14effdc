"""joulestat history and export's --since/--until against runs whose starts are
set to the millisecond: the bounds compare as instants (a start inside the
named second, a fraction, an offset), and every other form is a usage error."""
import csv
import io
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_history import SQLITE3, HistoryCase  # noqa: E402

# The starts the runs are given, by id: three inside one second, two later in
# it, one just before it and one on the next minute.
STARTS = {
    1: "2026-12-02T17:39:59.999Z",
    2: "2026-12-02T17:40:40.096Z",
    3: "2026-12-02T17:40:40.127Z",
    4: "2026-12-02T17:40:40.151Z",
    5: "2026-12-02T17:40:40.726Z",
    6: "2026-12-02T17:40:40.781Z",
    7: "2026-12-02T17:41:00.000Z",
}


@unittest.skipUnless(SQLITE3, "the sqlite3 shell is not installed (scripts/deps)")
class TimeBoundsTest(HistoryCase):
    def setUp(self):
        super().setUp()
        # One run measured, six more rows of it: the filter reads only runs.
        self.run_json(cmd=("true",))
        for i in range(2, len(STARTS) + 1):
            self.sql("INSERT INTO runs (start, end, hostname, command, command_line, "
                     "exit_status, partial, repetitions, total, energy_j, uncertainty_j, "
                     "duration_s, document) SELECT start, end, hostname, command, "
                     "command_line, exit_status, partial, repetitions, total, energy_j, "
                     "uncertainty_j, duration_s, document FROM runs WHERE id = 1")
        for i, start in STARTS.items():
            self.sql("UPDATE runs SET start = '%s' WHERE id = %d" % (start, i))

    def ids(self, *args):
        proc = self.run_cli("history", "--json", *args)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        listed = [r["id"] for r in json.loads(proc.stdout)]
        # export keeps the same runs: a bounded accounting export loses none.
        proc = self.run_cli("export", *args)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual([int(r["id"]) for r in csv.DictReader(io.StringIO(proc.stdout))],
                         listed, args)
        return listed

    def test_bounds_compare_instants(self):
        cases = [
            # The named second holds the runs started within it.
            (("--since", "2026-12-02T17:40:40Z"), [2, 3, 4, 5, 6, 7]),
            (("--until", "2026-12-02T17:40:40Z"), [1]),
            (("--since", "2026-12-02T17:40:41Z"), [7]),
            # Seconds left out: the minute's first instant.
            (("--since", "2026-12-02T17:40Z"), [2, 3, 4, 5, 6, 7]),
            (("--until", "2026-12-02T17:41Z"), [1, 2, 3, 4, 5, 6]),
            # Fractions, to the millisecond and finer; since is inclusive.
            (("--since", "2026-12-02T17:40:40.7Z"), [5, 6, 7]),
            (("--since", "2026-12-02T17:40:40.726Z"), [5, 6, 7]),
            (("--since", "2026-12-02T17:40:40.7260Z"), [5, 6, 7]),
            (("--since", "2026-12-02T17:40:40.7261Z"), [6, 7]),
            (("--until", "2026-12-02T17:40:40.726Z"), [1, 2, 3, 4]),
            (("--until", "2026-12-02T17:40:40.7255Z"), [1, 2, 3, 4]),
            (("--until", "2026-12-02T17:40:40.7261Z"), [1, 2, 3, 4, 5]),
            (("--since", "2026-12-02T17:40:40.127Z", "--until", "2026-12-02T17:40:40.727Z"),
             [3, 4, 5]),
            # Offsets and RFC 3339's lower-case t and z.
            (("--since", "2026-12-02T18:40:40.7+01:00"), [5, 6, 7]),
            (("--since", "2026-12-03T01:10:40.7+07:30"), [5, 6, 7]),
            (("--until", "2026-12-02T12:40:40-05:00"), [1]),
            (("--since", "2026-12-02t17:40:40.151z"), [4, 5, 6, 7]),
            # A leap second is the next minute's first instant.
            (("--since", "2026-12-02T17:40:60Z"), [7]),
            # Dates: midnight UTC.
            (("--since", "2026-12-02"), list(STARTS)),
            (("--until", "2026-12-02"), []),
            (("--since", "2026-12-03"), []),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                self.assertEqual(self.ids(*args), want)

    def test_other_forms_are_refused(self):
        for when in ("2026-12-02T17:40:40",        # no zone: local? UTC? not said
                     "2026-12-02T17:40:40.Z",      # a point without digits
                     "2026-12-02 17:40Z",          # a space for T
                     "2026-12-02T17Z",             # the hour alone
                     "2026-12-02T17:40:40+0100",   # an offset without its colon
                     "2026-12-02T17:40:40+24:00",  # no such offset
                     "2026-12-02T17:40:61Z",       # no such second
                     "2026-12-02T17:40:4Z",        # one digit of seconds
                     "2026-12-02Z",                # a date with a zone
                     "20261202",                   # the basic format
                     "2026-12-02T17:40:40Zjunk",
                     "0000-01-01T00:30+01:00",     # before the year 0000 in UTC
                     ""):
            for cmd in ("history", "export"):
                with self.subTest(cmd=cmd, when=when):
                    proc = self.run_cli(cmd, "--since", when)
                    self.assertEqual(proc.returncode, 2, proc.stderr)
                    self.assertIn("--since wants a date", proc.stderr)
                    self.assertEqual(proc.stdout, "")


if __name__ == "__main__":
    unittest.main()
