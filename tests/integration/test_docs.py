"""The documentation a clone holds: every relative link in README.md and the
Markdown under docs/, bindings/ and sim/ leads to a file of the repository,
never outside it (../shared/DESIGN.md exists on one machine, not in a clone)."""
import glob
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO  # noqa: E402

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def markdown_files():
    files = [os.path.join(REPO, "README.md")]
    for pattern in ("docs/**/*.md", "bindings/**/*.md", "sim/**/*.md"):
        files += glob.glob(os.path.join(REPO, pattern), recursive=True)
    return sorted(files)


class LinksTest(unittest.TestCase):
    def test_relative_links_stay_in_the_repository_and_exist(self):
        checked = 0
        for md in markdown_files():
            with open(md) as f:
                text = f.read()
            for target in LINK.findall(text):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue  # a URL, or an anchor on the same page
                path = os.path.normpath(os.path.join(os.path.dirname(md),
                                                     target.split("#")[0]))
                rel = os.path.relpath(path, REPO)
                with self.subTest(file=os.path.relpath(md, REPO), link=target):
                    self.assertFalse(rel.startswith(".."), "leads outside the repository")
                    self.assertTrue(os.path.exists(path), "no such file")
                checked += 1
        self.assertGreater(checked, 10)

    def test_design_is_in_docs_and_linked(self):
        with open(os.path.join(REPO, "README.md")) as f:
            readme = f.read()
        self.assertIn("(docs/design.md)", readme)
        with open(os.path.join(REPO, "docs", "design.md")) as f:
            design = f.read()
        # Its layout names what the tree holds.
        for path in ("src/core/", "src/backends/", "src/sinks/", "src/cli/", "sim/nvml/",
                     "sim/powercap/", "tests/unit/", "tests/integration/", "bench/",
                     "bindings/python/", "scripts/"):
            self.assertIn(path, design)
            self.assertTrue(os.path.isdir(os.path.join(REPO, path)), path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
