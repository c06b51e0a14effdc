"""joulestat.zeus.ZeusMonitor as a drop-in for Zeus 0.16's, against the NVML
simulator's truth.

The programs below are the usage Zeus documents, call for call: the
ZeusMonitor docstring's integration example (four GPUs, one window), the
nested epoch/step windows of its "Measuring Energy" page (with
torch.cuda.current_device()), its JAX example (sync_execution_with="jax") and
the power-limit page's monitors. They run with only the import changed. With
ZEUS_SOURCE pointing at a Zeus checkout, the docstring and JAX examples are
also taken from it verbatim and run the same way.

No framework is installed here: torch, JAX and CuPy are fake modules put in
sys.modules, which record the synchronisation calls the monitor makes.
"""
import ast
import contextlib
import io
import os
import runpy
import sys
import tempfile
import textwrap
import types
import unittest

from nvml_sim import NvmlSim, gpu_uuid
from pyjoulestat import assert_gpu_truth, joulestat  # noqa: F401
import joulestat.zeus as jz

TRACE = "steps:150,420,80,300@0.1"
PEAK = 420

DOCSTRING_EXAMPLE = '''
from joulestat.zeus import ZeusMonitor

def training():
    """A dummy training function."""
    import time
    time.sleep(0.5)

if __name__ == "__main__":
    gpu_indices = [0, 1, 2, 3]
    monitor = ZeusMonitor(gpu_indices)
    monitor.begin_window("entire_training")
    training()
    result = monitor.end_window("entire_training")
    print(f"Training consumed {result.total_energy} Joules.")
    for gpu_idx, gpu_energy in result.gpu_energy.items():
        print(f"GPU {gpu_idx} consumed {gpu_energy} Joules.")
'''

# train_loader and train_one_step are the page's placeholders: given by the harness.
NESTED_EXAMPLE = '''
from joulestat.zeus import ZeusMonitor

if __name__ == "__main__":
    monitor = ZeusMonitor(gpu_indices=[torch.cuda.current_device()])
    for epoch in range(3):
        monitor.begin_window("epoch")
        steps = []
        for x, y in train_loader:
            monitor.begin_window("step")
            train_one_step(x, y)
            result = monitor.end_window("step")
            steps.append(result)
        mes = monitor.end_window("epoch")
        print(f"Epoch {epoch} consumed {mes.time} s and {mes.total_energy} J.")
        avg_time = sum(map(lambda m: m.time, steps)) / len(steps)
        avg_energy = sum(map(lambda m: m.total_energy, steps)) / len(steps)
        print(f"One step took {avg_time} s and {avg_energy} J on average.")
'''

JAX_EXAMPLE = '''
import jax
import jax.numpy as jnp

from joulestat.zeus import ZeusMonitor

@jax.jit
def mat_prod(B):
    A = jnp.ones((1000, 1000))
    return A @ B

def main():
    monitor = ZeusMonitor(gpu_indices=[0], sync_execution_with="jax")
    monitor.begin_window("all_computations")
    key = jax.random.PRNGKey(0)
    B = jax.random.uniform(key, (1000, 1000))
    for i in range(50000):
        B = mat_prod(B)
    measurement = monitor.end_window("all_computations")
    print("Measurement object:", measurement)
    print(f"Took {measurement.time} seconds.")
    for gpu_idx, gpu_energy in measurement.gpu_energy.items():
        print(f"GPU {gpu_idx} consumed {gpu_energy} Joules.")

if __name__ == "__main__":
    main()
'''

POWER_LIMIT_PAGE = '''
from joulestat.zeus import ZeusMonitor

monitor = ZeusMonitor(gpu_indices=[0,1,2,3])
every = ZeusMonitor()
monitor.begin_window("a")
every.begin_window("a")
for _ in range(3):
    train_one_step(None, None)
m_every = every.end_window("a")
m = monitor.end_window("a")
'''


class FakeFrameworks:
    """torch, jax and cupy stand-ins that record synchronisation calls."""

    def __init__(self):
        self.calls = []
        calls = self.calls
        torch = types.ModuleType("torch")
        torch.cuda = types.SimpleNamespace(
            is_available=lambda: True, current_device=lambda: 1,
            synchronize=lambda d: calls.append(("torch", d)))
        self.torch = torch

        class Arr:
            def __matmul__(self, other):
                return self

            def __add__(self, other):
                return self
        jax = types.ModuleType("jax")
        jax.jit = lambda f: f
        jax.devices = lambda kind: ["%s%d" % (kind, i) for i in range(4)]
        jax.device_put = lambda x, device: calls.append(("jax.put", device)) or Arr()
        jax.block_until_ready = lambda fs: calls.append(("jax.block", len(fs)))
        jax.random = types.SimpleNamespace(PRNGKey=lambda s: s,
                                           uniform=lambda key, shape: Arr())
        jnp = types.ModuleType("jax.numpy")
        jnp.ones = lambda shape: Arr()
        jax.numpy = jnp
        self.jax, self.jnp = jax, jnp
        cupy = types.ModuleType("cupy")

        class Device:
            def __init__(self, d):
                self.d = d

            def synchronize(self):
                calls.append(("cupy", self.d))
        cupy.cuda = types.SimpleNamespace(Device=Device)
        self.cupy = cupy

    @contextlib.contextmanager
    def installed(self, *names):
        mods = {"torch": self.torch, "jax": self.jax, "jax.numpy": self.jnp,
                "cupy": self.cupy}
        keep = {n: sys.modules.get(n) for n in mods}
        for n in mods:
            sys.modules.pop(n, None)
        for n in names:
            sys.modules[n] = mods[n]
            if n == "jax":
                sys.modules["jax.numpy"] = self.jnp
        # A module absent from sys.modules must also fail to import.
        blocked = [n for n in ("torch", "jax", "cupy") if n not in names]
        finder = _Block(blocked)
        sys.meta_path.insert(0, finder)
        try:
            yield self
        finally:
            sys.meta_path.remove(finder)
            for n, m in keep.items():
                if m is None:
                    sys.modules.pop(n, None)
                else:
                    sys.modules[n] = m


class _Block:
    def __init__(self, names):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ImportError("no module named %r (blocked by the test)" % name)
        return None


class ZeusCase(unittest.TestCase):
    GPUS = 4
    MIG = None

    def setUp(self):
        self.sim = NvmlSim(gpus=self.GPUS, trace=TRACE, mig=self.MIG).__enter__()
        self.saved = dict(os.environ)
        os.environ.update(self.sim.env())
        self.fw = FakeFrameworks()
        self.windows = []   # (monitor, key, zeus Measurement, joulestat Measurement)
        self.monitors = []
        case = self
        orig_init, orig_end = jz.ZeusMonitor.__init__, jz.ZeusMonitor.end_window

        def init(mon, *a, **kw):
            orig_init(mon, *a, **kw)
            case.monitors.append(mon)

        def end(mon, key, *a, **kw):
            m = orig_end(mon, key, *a, **kw)
            case.windows.append((mon, key, m, mon.last_joulestat_measurement))
            return m
        jz.ZeusMonitor.__init__, jz.ZeusMonitor.end_window = init, end
        self.addCleanup(setattr, jz.ZeusMonitor, "__init__", orig_init)
        self.addCleanup(setattr, jz.ZeusMonitor, "end_window", orig_end)

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)
        self.sim.__exit__(None, None, None)

    def run_program(self, source, **globs):
        """Run a program as __main__ with extra globals; its stdout."""
        path = os.path.join(self.sim.dir, "example.py")
        with open(path, "w") as f:
            f.write(source)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, init_globals=globs, run_name="__main__")
        return out.getvalue()

    def finish(self):
        """Close every monitor's meter (NVML writes its truth at the last close)."""
        for mon in self.monitors:
            if mon._meter is not None:
                mon._meter.close()
        self.sim.truth()

    def check_window(self, mon, m, jm, nvml_of=lambda k: k):
        """A Zeus Measurement against its joulestat figure and the truth."""
        self.assertIsInstance(m, jz.Measurement)
        self.assertEqual(sorted(m.gpu_energy), sorted(set(mon.gpu_indices)))
        self.assertAlmostEqual(m.total_energy, sum(m.gpu_energy.values()), places=9)
        self.assertEqual(m.time, jm.time)
        self.assertIsNone(m.cpu_energy)  # cpu_indices=None and no RAPL here
        for k, e in m.gpu_energy.items():
            idx = nvml_of(k)
            assert_gpu_truth(self, self.sim, idx, e, jm.begin_ns, jm.end_ns,
                             PEAK * (1 - 0.05 * idx))


class DocumentedExamplesTest(ZeusCase):
    def test_docstring_integration_example(self):
        with self.fw.installed("torch"):
            out = self.run_program(DOCSTRING_EXAMPLE)
        self.finish()
        (mon, key, m, jm), = self.windows
        self.assertEqual(key, "entire_training")
        self.assertEqual(mon.gpu_indices, [0, 1, 2, 3])
        self.check_window(mon, m, jm)
        self.assertGreater(m.time, 0.5)
        self.assertIn(f"Training consumed {m.total_energy} Joules.", out)
        for k in range(4):
            self.assertIn(f"GPU {k} consumed {m.gpu_energy[k]} Joules.", out)
        # torch is importable: begin and end each synchronised the four GPUs.
        self.assertEqual(self.fw.calls, [("torch", k) for k in range(4)] * 2)

    def test_nested_epoch_and_step_windows(self):
        def train_one_step(x, y):
            import time
            time.sleep(0.06)
        with self.fw.installed("torch"):
            out = self.run_program(NESTED_EXAMPLE, torch=self.fw.torch,
                                   train_loader=[(1, 2), (3, 4)],
                                   train_one_step=train_one_step)
        self.finish()
        self.assertEqual([w[1] for w in self.windows], ["step", "step", "epoch"] * 3)
        for mon, key, m, jm in self.windows:
            self.assertEqual(mon.gpu_indices, [1])  # torch.cuda.current_device()
            self.check_window(mon, m, jm)
        for e in range(3):
            steps = self.windows[3 * e:3 * e + 2]
            epoch = self.windows[3 * e + 2][2]
            # Each figure is final when its window ends: the epoch holds its
            # steps to within their stated uncertainties.
            jm_epoch = self.windows[3 * e + 2][3]
            slack = jm_epoch.accuracy * epoch.total_energy + sum(
                s[3].accuracy * s[2].total_energy for s in steps)
            self.assertGreater(epoch.total_energy + slack,
                               sum(s[2].total_energy for s in steps))
            self.assertIn(f"Epoch {e} consumed {epoch.time} s and {epoch.total_energy} J.",
                          out)
        # Only the monitored GPU is synchronised, at every begin and end.
        self.assertEqual(self.fw.calls, [("torch", 1)] * 18)  # 3 x (epoch + 2 steps) x 2

    def test_jax_example(self):
        with self.fw.installed("jax"):
            out = self.run_program(JAX_EXAMPLE)
        self.finish()
        (mon, key, m, jm), = self.windows
        self.check_window(mon, m, jm)
        self.assertIn("Measurement object: Measurement(time=", out)
        self.assertIn(f"GPU 0 consumed {m.gpu_energy[0]} Joules.", out)
        # JAX: a value put on each monitored GPU and on the CPU, then waited for.
        self.assertEqual(self.fw.calls, [("jax.put", "gpu0"), ("jax.put", "cpu0"),
                                         ("jax.block", 2)] * 2)

    def test_power_limit_page_monitors(self):
        def train_one_step(x, y):
            import time
            time.sleep(0.05)
        with self.fw.installed():  # no framework at all: nothing to wait for
            self.run_program(POWER_LIMIT_PAGE, train_one_step=train_one_step)
        self.finish()
        (mon_e, _, m_every, jm_e), (mon, _, m, jm) = self.windows
        self.assertEqual(mon_e.gpu_indices, [0, 1, 2, 3])  # default: every GPU
        self.check_window(mon_e, m_every, jm_e)
        self.check_window(mon, m, jm)
        self.assertEqual(self.fw.calls, [])

    def test_examples_verbatim_from_a_zeus_checkout(self):
        src = os.environ.get("ZEUS_SOURCE")
        if not src:
            self.skipTest("ZEUS_SOURCE (a Zeus checkout) not set")
        with open(os.path.join(src, "zeus", "monitor", "energy.py")) as f:
            tree = ast.parse(f.read())
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef)
                   and n.name == "ZeusMonitor")
        doc = ast.get_docstring(cls)
        example = doc.split("```python", 1)[1].split("```", 1)[0]
        example = textwrap.dedent(example).replace("time.sleep(5)", "time.sleep(0.5)")
        with open(os.path.join(src, "examples", "jax", "measure_energy.py")) as f:
            jax_example = f.read()
        for source, fw in ((example, "torch"), (jax_example, "jax")):
            self.assertIn("from zeus.monitor import ZeusMonitor", source)
            source = source.replace("from zeus.monitor import ZeusMonitor",
                                    "from joulestat.zeus import ZeusMonitor")
            with self.fw.installed(fw):
                self.run_program(source)
        self.finish()
        self.assertEqual(len(self.windows), 2)
        for mon, key, m, jm in self.windows:
            self.check_window(mon, m, jm)


class MigTest(ZeusCase):
    MIG = "2"  # GPU 2 is in MIG mode

    def test_mig_instance_measures_the_gpu_holding_it(self):
        # A MIG instance is measured as the whole GPU it is on, as joulestat run does.
        for cvd in ("MIG-5a1c0000-0000-4000-9000-000000000002",
                    "MIG-" + gpu_uuid(2) + "/1/0",
                    "MIG-5a1c0000-0000-4000-9000-000000000002,0"):
            os.environ["CUDA_VISIBLE_DEVICES"] = cvd
            mon = jz.ZeusMonitor()
            self.assertEqual(mon.gpu_indices, [0, 1] if cvd.endswith(",0") else [0])
            mon.begin_window("w", sync_execution=False)
        import time
        time.sleep(0.25)
        got = [mon.end_window("w", sync_execution=False) for mon in self.monitors]
        for m in got:
            self.assertGreater(m.gpu_energy[0], 0)
        self.finish()
        maps = ({0: 2}, {0: 2}, {0: 2, 1: 0})
        for (mon, _, m, jm), nvml in zip(self.windows, maps):
            self.check_window(mon, m, jm, nvml_of=nvml.get)


class MonitorTest(ZeusCase):
    def test_cuda_visible_devices_are_cuda_ordinals(self):
        os.environ["CUDA_VISIBLE_DEVICES"] = "2,3"
        one = jz.ZeusMonitor(gpu_indices=[1])        # CUDA device 1 = GPU 3
        both = jz.ZeusMonitor()                      # CUDA devices 0, 1 = GPUs 2, 3
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_uuid(1) + ",bogus,0"  # ends at "bogus"
        by_uuid = jz.ZeusMonitor()
        for mon in (one, both, by_uuid):
            mon.begin_window("w", sync_execution=False)
        import time
        time.sleep(0.25)
        got = [mon.end_window("w", sync_execution=False) for mon in (one, both, by_uuid)]
        self.assertEqual((one.gpu_indices, both.gpu_indices, by_uuid.gpu_indices),
                         ([1], [0, 1], [0]))
        with self.assertRaisesRegex(ValueError, r"gpu_indices: 1 is not a CUDA device"):
            jz.ZeusMonitor(gpu_indices=[1])
        self.finish()
        maps = ({1: 3}, {0: 2, 1: 3}, {0: 1})
        for (mon, _, m, jm), nvml in zip(self.windows, maps):
            self.check_window(mon, m, jm, nvml_of=nvml.get)

    def test_cuda_visible_devices_end_at_the_first_entry_naming_no_gpu(self):
        # As the CUDA runtime (and joulestat run): "1,7,2" on four GPUs is GPU 1
        # alone; an ambiguous UUID prefix ends the list too.
        for cvd in ("1,7,2", "1,4,2", "1,GPU-5a1c", "1,bogus,2", "1,1,2"):
            with self.subTest(cvd=cvd):
                os.environ["CUDA_VISIBLE_DEVICES"] = cvd
                mon = jz.ZeusMonitor(settle=False)  # no window: nothing to settle for
                self.assertEqual(mon.gpu_indices, [0])
                self.assertEqual(mon._meter.gpu_keys, {1: 0})
                with self.assertRaisesRegex(ValueError, r"gpu_indices: 1 is not a CUDA device"):
                    jz.ZeusMonitor(gpu_indices=[1], settle=False)
                mon._meter.close()
        # A list whose first entry names no GPU selects nothing: refused, never
        # a monitor that measures nothing.
        for cvd in ("7", "GPU-5a1c", "bogus,0", "MIG-5a1c0000-0000-4000-9000-000000000002"):
            with self.subTest(cvd=cvd):
                os.environ["CUDA_VISIBLE_DEVICES"] = cvd
                with self.assertRaisesRegex(ValueError, "names no GPU"):
                    jz.ZeusMonitor(settle=False)
        self.finish()

    def test_cancel_log_file_and_window_names(self):
        log = os.path.join(self.sim.dir, "sub", "zeus.csv")
        mon = jz.ZeusMonitor(gpu_indices=[0, 2], log_file=log, sync_execution_with="cupy")
        with self.fw.installed("cupy"):
            mon.begin_window("kept")
            with self.assertRaisesRegex(ValueError, "Measurement window 'kept' already exists"):
                mon.begin_window("kept")
            mon.begin_window("dropped")
            zero = mon.end_window("dropped", cancel=True)
            with self.assertRaisesRegex(ValueError, "Measurement window 'dropped' does not"):
                mon.end_window("dropped")
            mon.begin_window("kept", restart=True)  # the stale one is discarded
            m = mon.end_window("kept")
        self.assertEqual(zero.time, 0.0)
        self.assertEqual(zero.gpu_energy, {0: 0.0, 2: 0.0})
        self.assertEqual(zero.total_energy, 0.0)
        self.assertEqual(self.fw.calls, [("cupy", 0), ("cupy", 2)] * 5)
        self.finish()
        self.check_window(mon, m, self.windows[-1][3])
        mon.log_file.close()
        with open(log) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "start_time,window_name,elapsed_time,gpu0_energy,gpu2_energy")
        self.assertEqual(len(lines), 2)  # the cancelled window is not logged
        start, key, elapsed, e0, e2 = lines[1].split(",")
        self.assertEqual((key, float(elapsed), float(e0), float(e2)),
                         ("kept", m.time, m.gpu_energy[0], m.gpu_energy[2]))

    def test_repeated_index_is_measured_once_as_zeus_does(self):
        # Zeus 0.16 keeps gpu_indices as given and keys gpu_energy by GPU, so a
        # repeated index is one GPU, counted once; its CSV header repeats the
        # column as Zeus writes it.
        log = os.path.join(self.sim.dir, "rep.csv")
        mon = jz.ZeusMonitor(gpu_indices=[1, 1, 2], log_file=log)
        self.assertEqual(mon.gpu_indices, [1, 1, 2])
        mon.begin_window("w", sync_execution=False)
        import time
        time.sleep(0.3)
        m = mon.end_window("w", sync_execution=False)
        self.assertEqual(sorted(m.gpu_energy), [1, 2])
        self.assertAlmostEqual(m.total_energy, m.gpu_energy[1] + m.gpu_energy[2], places=9)
        zero = jz.ZeusMonitor(gpu_indices=[0, 0])
        zero.begin_window("c", sync_execution=False)
        self.assertEqual(zero.end_window("c", cancel=True).gpu_energy, {0: 0.0})
        self.finish()
        self.check_window(mon, m, self.windows[0][3])
        mon.log_file.close()
        with open(log) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "start_time,window_name,elapsed_time,"
                                   "gpu1_energy,gpu1_energy,gpu2_energy")
        self.assertEqual([float(x) for x in lines[1].split(",")[3:]],
                         [m.gpu_energy[1], m.gpu_energy[1], m.gpu_energy[2]])

    def test_arguments(self):
        for kw, exc, pattern in [
            (dict(gpu_indices="0"), TypeError, "gpu_indices must be a list of int"),
            (dict(gpu_indices=[0.5]), TypeError, "gpu_indices: an entry is float"),
            (dict(gpu_indices=[-1]), ValueError, "gpu_indices: -1 is negative"),
            # A GPU the user asked for that does not exist is refused by the
            # library itself, naming what exists.
            (dict(gpu_indices=[7]), joulestat.JoulestatError, r"GPU 7 not found"),
            (dict(cpu_indices=[0]), ValueError, r"cpu_indices: no RAPL package \[0\]"),
            (dict(sync_execution_with="tf"), ValueError,
             "sync_execution_with: 'tf' is not one of torch, jax, cupy"),
        ]:
            with self.subTest(kw=kw), self.assertRaisesRegex(exc, pattern):
                jz.ZeusMonitor(**kw)
        with self.assertRaisesRegex(ValueError, "sync_with: 'x' is not one of"):
            jz.sync_execution([0], sync_with="x")
        with self.fw.installed():
            self.assertFalse(jz.sync_execution([0], sync_with="torch"))
        with self.fw.installed("torch"):
            self.assertTrue(jz.sync_execution([0, 3], sync_with="torch"))
        self.assertEqual(self.fw.calls, [("torch", 0), ("torch", 3)])

    def test_no_gpus_measures_time_only(self):
        mon = jz.ZeusMonitor(gpu_indices=[], cpu_indices=[])
        mon.begin_window("t")
        m = mon.end_window("t")
        self.assertEqual(m.gpu_energy, {})
        self.assertGreaterEqual(m.time, 0)
        self.assertIsNone(mon._meter)


if __name__ == "__main__":
    unittest.main(verbosity=2)
