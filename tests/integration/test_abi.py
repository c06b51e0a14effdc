"""The library's exported symbols are exactly the functions the public header
declares, every one in the version node JOULESTAT_0.1, and the version script
names the same list: an internal function that leaks, or a public one that is
hidden, fails here."""
import os
import re
import shutil
import subprocess
import unittest

from common import REPO

HEADER = os.path.join(REPO, "include", "joulestat.h")
MAP = os.path.join(REPO, "src", "libjoulestat.map")
NODE = "JOULESTAT_0.1"


def header_functions():
    """Functions include/joulestat.h declares, from the preprocessed header (so a
    macro or comment cannot fool it)."""
    cc = os.environ.get("CC", "cc")
    text = subprocess.run([cc, "-E", "-P", "-x", "c", HEADER], check=True, capture_output=True,
                          text=True).stdout
    text = text.replace('__attribute__((visibility("default")))', "JST_EXPORT_MARK")
    funcs = {}
    for stmt in re.split(r"[;{}]", text):
        stmt = " ".join(stmt.split())
        if stmt.startswith("typedef") or "(" not in stmt:
            continue
        # "ret name(args)" at file scope; a function pointer parameter or a
        # member cannot appear here, as struct bodies were split at braces.
        m = re.match(r"^(JST_EXPORT_MARK )?[\w\s\*]*?\b(jst_\w+)\s*\(", stmt)
        if m:
            funcs[m.group(2)] = bool(m.group(1))
    return funcs


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2]
        base, _, version = name.partition("@@")
        if not version:
            base, _, version = name.partition("@")
        if kind == "A" and base == NODE:
            continue  # the version node's own definition
        syms[base] = (kind, version)
    return syms


def map_names():
    text = re.sub(r"/\*.*?\*/", "", open(MAP).read(), flags=re.S)
    m = re.search(NODE.replace(".", r"\.") + r"\s*\{\s*global:(.*?)local:\s*\*;\s*\};", text,
                  re.S)
    if not m:
        raise AssertionError("%s has no node %s { global: ...; local: *; };" % (MAP, NODE))
    return {n.strip() for n in m.group(1).split(";") if n.strip()}


class AbiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("nm"):
            raise unittest.SkipTest("nm not installed (binutils)")
        cls.lib = os.environ.get("JOULESTAT_LIBRARY")
        if not cls.lib:
            raise unittest.SkipTest("JOULESTAT_LIBRARY not set")
        cls.header = header_functions()
        cls.syms = exported(cls.lib)

    def test_header_is_parsed(self):
        # The parser must see the API at all, or the comparisons below prove nothing.
        for name in ("jst_meter_open", "jst_window_begin", "jst_config_set",
                     "jst_measurement_total", "jst_scope_end"):
            self.assertIn(name, self.header)

    def test_every_declaration_is_marked_for_export(self):
        unmarked = sorted(n for n, marked in self.header.items() if not marked)
        self.assertEqual(unmarked, [], "declared without JST_EXPORT")

    def test_every_declared_function_is_exported(self):
        missing = sorted(set(self.header) - set(self.syms))
        self.assertEqual(missing, [], "declared in the header but not exported")

    def test_nothing_else_is_exported(self):
        extra = sorted(set(self.syms) - set(self.header))
        self.assertEqual(extra, [], "exported but not in the header")

    def test_every_symbol_is_a_function_in_the_version_node(self):
        for name, (kind, version) in sorted(self.syms.items()):
            self.assertEqual(kind, "T", name)
            self.assertEqual(version, NODE, name)

    def test_version_script_lists_the_header(self):
        self.assertEqual(map_names(), set(self.header))

    def test_loading_the_library_loads_no_tls_stack(self):
        """What it links is loaded by every program that uses it (a Python
        import, each joulestat command): libcurl, FreeIPMI and their TLS and
        Kerberos libraries are dlopen'ed by the BMC backends when configured,
        never linked (they cost some 15 ms of start-up)."""
        out = subprocess.run(["readelf", "-d", self.lib], capture_output=True, text=True,
                             check=True).stdout
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
        self.assertTrue(needed, out)
        allowed = {"libc.so.6", "libm.so.6", "libjansson.so.4", "ld-linux-x86-64.so.2",
                   "libpthread.so.0", "libdl.so.2"}
        # A sanitizer build links its runtime too.
        needed = {n for n in needed if not re.match(r"lib(asan|ubsan|tsan)\.so", n)}
        self.assertLessEqual(needed, allowed)


if __name__ == "__main__":
    unittest.main()
