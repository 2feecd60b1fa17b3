"""Where a network runs: Brian2's runtime (Cython C++), ``cpp_standalone`` or ``cuda_standalone``.

Model code never names a device. A run asks :func:`simulation_device` for one, builds its network
inside the ``with`` block and calls :meth:`Simulation.run`, which on the standalone devices also
generates, compiles and runs the C++/CUDA project.

Compiled code is cached between runs: the runtime device keeps Brian2's Cython cache, and each
standalone project is built in a fixed folder under :func:`cache_dir`, where Brian2 rewrites only
changed files and ``make`` recompiles only what changed.

Two processes can build the same standalone project at once (two protocol runs started together,
workers of a sweep): each holds a lock on its project folder from the first object it creates to
the last result it reads, so the second waits rather than mixing its code or results with the
first's.

Brian2's standalone devices silently drop ``network_operation`` objects, so
:meth:`Simulation.run` refuses to run a network that holds one anywhere but on ``runtime``, and
whatever holds one (:class:`bimsim.network.BIMNetwork`, its readout, adaptive pruning) refuses to be
built while Brian2's current device is a standalone one (:func:`require_runtime`).

Brian2's device is global to the process. bimsim never changes it behind a caller's back:
:func:`simulation_device` runs only from Brian2's runtime device (a caller who chose a standalone
device with ``brian2.set_device`` is told to go back first, rather than have bimsim add to, clear
or switch away from the project on it), and leaves the device, its build options, the default
clock's step and Brian2's preferences as it found them.

A run never returns a truncated result: where Brian2 would stop a simulation early on Ctrl-C and
carry on, :meth:`Simulation.run` raises ``KeyboardInterrupt``, also when the interrupt ends a
standalone project's compiler or binary.
"""

import functools
import gc
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import brian2
from brian2 import NetworkOperation, get_logger, prefs
from brian2.devices.device import RuntimeDevice, all_devices, previous_devices, reset_device
from filelock import FileLock, Timeout

from bimsim.errors import Fault, show_own_errors_plainly
from bimsim.files import cache_dir, tied_to_this_process, unwritable

show_own_errors_plainly()  # after Brian2's import installed its hook

__all__ = [
    "ADDS_TO_PROJECT",
    "DEVICES",
    "Simulation",
    "SimulationInterrupted",
    "cache_dir",
    "cuda_toolkit_flags",
    "device_name",
    "device_problem",
    "require_runtime",
    "simulation_device",
]

logger = get_logger(__name__)

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")

#: Why a function that builds and runs its own runtime networks refuses a standalone device
#: (:func:`require_runtime`'s ``why``).
ADDS_TO_PROJECT = "would take its networks into the project built there instead of running them"


def check_device(name):
    """Return ``name`` if it is a known device, else raise a ``ValueError`` listing them."""
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    return name


def device_problem(name):
    """Why this machine cannot run ``name``, in a phrase, or None where it can.

    Checked before any work, so that a run does not fail after minutes (or with a compiler's
    traceback): a standalone device needs ``make`` and the C++ compiler its Makefile runs
    (``$CXX``, else ``g++``), and a cache folder (:func:`cache_dir`) it can write its build in;
    ``cuda_standalone`` also needs brian2cuda, ``nvcc`` and an NVIDIA GPU to run what it built.
    """
    check_device(name)
    if name == "runtime":
        return None
    compiler = (os.environ.get("CXX") or "g++").split()[0]
    for tool in ("make", compiler):
        if shutil.which(tool) is None:
            return f"{name} needs make and a C++ compiler; no {tool} on PATH"
    if name == "cuda_standalone":
        if importlib.util.find_spec("brian2cuda") is None:
            return "cuda_standalone needs brian2cuda: pip install 'bimsim[cuda]'"
        if shutil.which("nvcc") is None:
            return "cuda_standalone needs the CUDA compiler nvcc on PATH"
        if not _gpu_present():
            return "cuda_standalone needs an NVIDIA GPU to run on, and nvidia-smi lists none here"
    return _cache_problem(cache_dir())


def _cache_problem(folder):
    """Why standalone builds cannot be kept in ``folder``, or None."""
    where = f"the build cache {folder} ($BIMSIM_CACHE)"
    existing = folder
    while not existing.exists():
        if existing.is_symlink():
            return f"{where} is a dangling link"
        existing = existing.parent
    if not existing.is_dir():
        return f"{where} cannot be made: {existing} is a file, not a folder"
    reason = unwritable(existing)
    return f"{where} cannot be written: {existing}: {reason}" if reason else None


@functools.cache
def _gpu_present():
    """Whether ``nvidia-smi -L`` lists a GPU."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listing.returncode == 0 and "GPU" in listing.stdout


def device_name(device=None):
    """The name Brian2 knows ``device`` by (default: its current device, ``brian2.get_device()``),
    e.g. ``'runtime'`` or ``'cpp_standalone'``; the class name of a device it has no name for."""
    device = brian2.get_device() if device is None else device
    names = [name for name, known in all_devices.items() if known is device]
    return names[0] if names else type(device).__name__


def require_runtime(what, why="drops its network operations without a word"):
    """Refuse to build or run ``what`` unless Brian2's current device is its runtime device.

    Brian2's standalone devices drop network operations without a word: a BIM network built after
    ``brian2.set_device('cpp_standalone')`` would run with no readout, no learning signal and no
    spikes, and report a NaN loss.

    Parameters
    ----------
    what : str
        What would be built, e.g. ``"BIMNetwork"``; starts the message.
    why : str
        What the current device would do to it (default: drop its network operations).

    Raises
    ------
    RuntimeError
        Naming ``what`` and the current device.
    """
    current = brian2.get_device()
    if not isinstance(current, RuntimeDevice):
        raise RuntimeError(
            f"{what} needs Brian2's runtime device, but the current device is "
            f"{device_name(current)} (chosen with brian2.set_device), which {why}: call "
            "brian2.set_device('runtime') first"
        )


class SimulationInterrupted(KeyboardInterrupt):
    """A simulation stopped before its end (an interrupt, or Brian2's ``stop()``)."""


def _interrupted_build(error):
    """Whether Brian2's "compilation failed (error code: N)" was the compiler killed by SIGINT.

    Brian2 runs ``make`` with ``os.system``, which ignores SIGINT in the calling process, so a
    Ctrl-C reaches only the compiler; its wait status is in the message.
    """
    match = re.search(r"error code: (\d+)", str(error))
    if match is None:
        return False
    status = int(match.group(1))
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT


@dataclass
class Simulation:
    """A device chosen for one network (see :func:`simulation_device`).

    Attributes
    ----------
    device : str
        ``'runtime'``, ``'cpp_standalone'`` or ``'cuda_standalone'``.
    directory : Path or None
        The standalone project folder (None on runtime).
    execute : bool
        Whether a standalone build is also run (False: generate and compile only).
    """

    device: str
    directory: Path | None
    execute: bool = True

    @property
    def standalone(self):
        return self.device != "runtime"

    def run(self, net, duration, report=None, namespace=None, profile=False):
        """Run ``net`` for ``duration``; on a standalone device build (and run) the project.

        ``report``, ``namespace`` and ``profile`` are passed to :meth:`brian2.Network.run`
        (``profile=True`` records each object's time in ``net.profiling_info``).

        Raises
        ------
        RuntimeError
            If ``net`` holds a ``network_operation`` and the device is standalone, or Brian2's
            current device is not this simulation's (a ``brian2.set_device`` since it began).
        KeyboardInterrupt
            :class:`SimulationInterrupted` if the run stopped before ``duration`` (Ctrl-C while
            it ran, compiled or ran a standalone binary): its results would be truncated.
        """
        operations = [obj.name for obj in net.objects if isinstance(obj, NetworkOperation)]
        current = device_name()
        if current != self.device:
            held = f" holds network operations ({', '.join(operations)}) and" if operations else ""
            raise RuntimeError(
                f"this network{held} was built for Brian2's {self.device} device, but the "
                f"current device is {current} (chosen with brian2.set_device): call "
                f"brian2.set_device({self.device!r}) first"
            )
        if self.standalone and operations:
            raise RuntimeError(
                f"{self.device} cannot run network operations ({', '.join(operations)}): "
                "Brian2's standalone devices drop them without a word. Run this network with "
                "device='runtime'."
            )
        # Ctrl-C raises KeyboardInterrupt instead of Brian2's early stop with partial results.
        with _preferences({"core.stop_on_keyboard_interrupt": False}):
            end = net.t + duration
            net.run(duration, report=report, namespace=namespace, profile=profile)
            # a run that ends normally sets t to its end exactly; a stopped one leaves it short
            if not self.standalone and net.t < end:
                raise SimulationInterrupted(f"the simulation stopped at {net.t} of {end}")
            if self.standalone:
                self._build()

    def _build(self):
        log = self.directory / MAKE_LOG
        log.unlink(missing_ok=True)
        try:
            with _preferences(_build_preferences()):
                brian2.get_device().build(
                    directory=str(self.directory),
                    compile=True,
                    run=self.execute,
                    with_output=False,
                )
        except RuntimeError as err:
            if _interrupted_build(err):
                raise SimulationInterrupted("interrupted while compiling") from None
            if "compilation failed" in str(err) and log.exists():
                said = [line for line in log.read_text(errors="replace").splitlines() if line]
                last = said[-1] if said else "nothing"
                raise Fault(
                    f"compiling the {self.device} project in {self.directory} failed; make said "
                    f"last: {last} (all it said is in {log})"
                ) from None
            raise


#: Where a standalone build's ``make`` writes what it says, in the project's folder: a build
#: prints nothing, also when it is interrupted (``make: *** ... Interrupt``).
MAKE_LOG = "make.log"


def _build_preferences():
    """Brian2's preferences that make a standalone build's ``make`` and binary end with this
    process, even when it is killed (SIGKILL runs no handler): both are started through
    :func:`bimsim.files.tied_to_this_process`, so the kernel sends them SIGTERM when this process
    ends, and ``make`` ends its compilers. Brian2 starts ``make`` with ``os.system``: ``exec``
    makes it the shell's replacement, a child of this process. What ``make`` says goes to
    :data:`MAKE_LOG` in the project's folder."""
    guard = tied_to_this_process([])
    run = prefs["devices.cpp_standalone.run_cmd_unix"]
    make = prefs["devices.cpp_standalone.make_cmd_unix"]
    return {
        # Brian2 appends make's arguments after this; a redirection may come before them
        "devices.cpp_standalone.make_cmd_unix": f"exec {shlex.join([*guard, *shlex.split(make)])} "
        f">{MAKE_LOG} 2>&1",
        "devices.cpp_standalone.run_cmd_unix": [
            *guard,
            *(shlex.split(run) if isinstance(run, str) else run),
        ],
    }


def cuda_toolkit_flags():
    """Include, library and compiler settings that let brian2cuda build with CUDA 13 from pip.

    curand's headers and library come from the ``nvidia-curand`` wheel (``nvidia/cu13``); its
    library ships only as ``libcurand.so.10``, so a link ``libcurand.so`` is made in the cache for
    brian2cuda's ``-lcurand``. CUDA 13's Thrust and CUB need C++17, where brian2 2.10.1 and
    brian2cuda ask for C++11.
    """
    try:
        import nvidia

        cu13 = Path(next(iter(nvidia.__path__))) / "cu13"
    except ImportError:
        cu13 = None
    library = cu13 / "lib" / "libcurand.so.10" if cu13 else None
    if library is None or not library.exists():
        raise RuntimeError("cuda_standalone needs curand from pip: pip install 'bimsim[cuda]'")
    libdir = cache_dir() / "cuda-lib"
    libdir.mkdir(parents=True, exist_ok=True)
    link = libdir / "libcurand.so"
    if link.is_symlink() and link.readlink() != library:  # e.g. a re-created environment
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(library)
    return {
        "include_dirs": [str(cu13 / "include")],
        "library_dirs": [str(libdir), str(cu13 / "lib")],
        "std": "-std=c++17",
    }


def _cuda_preferences(compute_capability):
    try:
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device)
    except ImportError as err:
        raise RuntimeError(
            "device 'cuda_standalone' needs brian2cuda: pip install 'bimsim[cuda]'"
        ) from err
    flags = cuda_toolkit_flags()
    backend = "devices.cuda_standalone.cuda_backend"
    settings = {
        "codegen.cpp.include_dirs": prefs["codegen.cpp.include_dirs"] + flags["include_dirs"],
        "codegen.cpp.library_dirs": prefs["codegen.cpp.library_dirs"] + flags["library_dirs"],
        "codegen.cpp.runtime_library_dirs": (
            prefs["codegen.cpp.runtime_library_dirs"] + flags["library_dirs"]
        ),
        "codegen.cpp.extra_compile_args_gcc": _with_std(
            prefs["codegen.cpp.extra_compile_args_gcc"], flags["std"]
        ),
        f"{backend}.extra_compile_args_nvcc": _with_std(
            prefs[f"{backend}.extra_compile_args_nvcc"], flags["std"]
        ),
    }
    if compute_capability is not None:
        # No GPU to ask: generate and compile for the given architecture.
        settings.update(
            {
                f"{backend}.detect_gpus": False,
                f"{backend}.gpu_id": 0,
                f"{backend}.compute_capability": float(compute_capability),
            }
        )
    return settings


def _with_std(flags, std):
    return [flag for flag in flags if not flag.startswith("-std=")] + [std]


@contextmanager
def _preferences(settings):
    saved = {key: prefs[key] for key in settings}
    for key, value in settings.items():
        prefs[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            prefs[key] = value


def _holds_project(device):
    """Whether the standalone ``device`` holds someone's objects or run: anything beyond the
    default clock that Brian2 gives every device it activates."""
    if device.has_been_run:
        return True
    for variable in device.arrays:
        try:
            if variable.owner.name != "defaultclock":
                return True
        except ReferenceError:  # the owner is gone, its arrays are not
            return True
    return False


def _require_free(device):
    """Refuse to run from a device other than runtime, or to build on a standalone device that
    holds another project (see the module docstring)."""
    current = device_name()
    if current != "runtime":
        raise RuntimeError(
            f"Brian2's current device is {current} (chosen with brian2.set_device); bimsim runs "
            f"this on the {device} device and will not switch yours, add to its project or "
            "clear it: call brian2.set_device('runtime') first"
        )
    if device != "runtime" and device in all_devices and _holds_project(all_devices[device]):
        raise RuntimeError(
            f"Brian2's {device} device holds another project (objects or a run, left by an "
            "earlier brian2.set_device); bimsim would add to it, then clear it: reset it first "
            f"(brian2.set_device({device!r}); brian2.device.reinit(); "
            "brian2.set_device('runtime'))"
        )


@contextmanager
def _restored_clock():
    """Give the default clock back its step after the block (a network may set its own)."""
    dt = brian2.defaultclock.dt
    try:
        yield
    finally:
        brian2.defaultclock.dt = dt


@contextmanager
def simulation_device(device, name, *, execute=True, compute_capability=None):
    """Select ``device`` for the network built inside the ``with`` block.

    Brian2's current device must be its runtime device (see the module docstring); afterwards
    it is again, with its build options, the default clock's step and every preference as they
    were. A standalone device is cleared after the block (``device.reinit()``), so the next
    block can build a new project on it.

    Parameters
    ----------
    device : {'runtime', 'cpp_standalone', 'cuda_standalone'}
    name : str
        Names the standalone project folder ``cache_dir()/device/name``; networks with the same
        name reuse its compiled objects.
    execute : bool
        Run the standalone binary after compiling it. ``False`` only generates and compiles (e.g.
        CUDA code on a machine with no GPU).
    compute_capability : float, optional
        For ``cuda_standalone``: compile for this architecture instead of detecting a GPU.

    Yields
    ------
    Simulation

    Raises
    ------
    RuntimeError
        If Brian2's current device is not runtime (``brian2.set_device``), or the standalone
        ``device`` holds another project.
    """
    check_device(device)
    if device == "runtime" and not execute:
        raise ValueError("execute=False only applies to the standalone devices")
    _require_free(device)
    if device == "runtime":
        with _restored_clock():
            yield Simulation("runtime", None)
        return
    settings = _cuda_preferences(compute_capability) if device == "cuda_standalone" else {}
    # Brian2 gives a code object a numbered name while an object of the same name is alive: objects
    # of an earlier network, kept by reference cycles, would rename (and recompile) every file.
    gc.collect()
    directory = cache_dir() / device / name
    directory.mkdir(parents=True, exist_ok=True)
    with _project_lock(directory), _preferences(settings), _restored_clock():
        depth = len(previous_devices)
        try:
            brian2.set_device(device, build_on_run=False)
            yield Simulation(device, directory, execute)
        finally:
            if len(previous_devices) > depth:  # set_device kept the runtime device to go back to
                # clear the project, then go back (an activated device copies the step of the
                # one before: a cleared one has no clock to copy)
                brian2.get_device().reinit()
                reset_device()


@contextmanager
def _project_lock(directory):
    """Hold the lock of the standalone project in ``directory`` (waiting, and saying so)."""
    lock = FileLock(directory.with_name(f"{directory.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.warn(
            f"another process is building or running {directory}; waiting for it to finish",
            name_suffix="project_lock",
        )
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
