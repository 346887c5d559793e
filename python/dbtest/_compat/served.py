"""What the plugins in `plugins.SERVED_BY_ENGINE` give a suite, served by the engine (DESIGN 4c).

Each is served only while its plugin is installed and not disabled (`-p no:NAME`), so a
suite sees what pytest with that plugin would give it, and nothing more:

- anyio's plugin: a coroutine test with the `anyio` mark (every coroutine test in anyio's
  auto mode) asks for `anyio_backend`, as anyio's collection hook makes it; the plugin's own
  fixtures (`anyio_backend` with its params, `anyio_backend_name`, `anyio_backend_options`,
  `free_*_port`) are served as built-ins. A test and the async fixtures of a test that asks
  for `anyio_backend` run on that backend: asyncio is the run's event loop; another backend
  (trio) runs in anyio's own test runner, on one thread of its own, kept open while a test
  or an async fixture of that backend lives, as anyio's plugin keeps it.
- pytest-asyncio's `unused_*_port(_factory)` and `event_loop_policy` fixtures (its marks,
  modes and async fixtures are the engine's own).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import os
import random
import sys
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .. import _capture

if TYPE_CHECKING:
    from .fixtures import FixtureDef

ANYIO = "anyio.pytest_plugin"
ANYIO_BACKEND = "anyio_backend"

# The fixtures of a served plugin that the engine gives suites as they are, from the
# installed plugin's module (its params, scopes and bodies are the plugin's version's own).
_PLUGIN_FIXTURES: dict[str, tuple[str, ...]] = {
    ANYIO: (
        "anyio_backend", "anyio_backend_name", "anyio_backend_options",
        "free_tcp_port_factory", "free_udp_port_factory", "free_tcp_port", "free_udp_port",
    ),
    "pytest_asyncio.plugin": (
        "unused_tcp_port", "unused_tcp_port_factory", "unused_udp_port", "unused_udp_port_factory",
        "event_loop_policy",
    ),
}


@functools.cache
def _entry_points() -> dict[str, str]:
    """The installed pytest plugins: module -> entry point name (what `-p no:NAME` names).
    None without pytest: its plugins are nothing to a suite that does not have it."""
    from importlib.metadata import entry_points
    from importlib.util import find_spec

    if find_spec("pytest") is None:
        return {}
    return {ep.value.split(":")[0]: ep.name for ep in entry_points(group="pytest11")}


class _State:
    """What the run's configuration says about the served plugins (set by `configure`)."""

    disabled: frozenset[str] = frozenset()
    anyio_auto = False
    randomly_seed: int | None = None
    warn: Callable[[str], None] = staticmethod(lambda _message: None)


_state = _State()


def configure(config: Any) -> None:
    """Reads the run's configuration: the plugins `-p no:NAME` disables, anyio's mode."""
    _state.disabled = frozenset(getattr(config._settings, "disabled_plugins", None) or ())
    _state.warn = config._warn
    _state.anyio_auto = active(ANYIO) and "auto" in (_ini(config, "anyio_mode"), config.getoption("anyio_mode", None))
    _serve_xdist_worker(config)
    seed = os.environ.get(_RANDOMLY_SEED)
    _state.randomly_seed = int(seed) if seed is not None and active(RANDOMLY) else None


def _ini(config: Any, name: str) -> Any:
    try:
        return config.getini(name)
    except ValueError:  # a key no plugin declared: unset
        return None


def active(module: str) -> bool:
    """Whether the plugin whose entry point is `module` is installed and not disabled."""
    name = _entry_points().get(module)
    return name is not None and name not in _state.disabled and module not in _state.disabled


def fixtures() -> dict[str, FixtureDef]:
    """The served plugins' fixtures, found by name as pytest's built-in fixtures are."""
    from .fixtures import FixtureDef, fixtures_in

    table: dict[str, FixtureDef] = {}
    for module_name, own in _OWN_FIXTURES.items():
        if active(module_name):
            for name, (func, scope) in own().items():
                table[name] = FixtureDef(name, func, scope, origin=f"dbtest (serving {module_name})")
    for module_name, names in _PLUGIN_FIXTURES.items():
        if not active(module_name):
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin: its fixtures are missing, and said so
            _state.warn(f"pytest plugin {module_name} could not be imported ({exc}); its fixtures are missing")
            continue
        found = fixtures_in(vars(module), getattr(module, "__file__", None) or module_name)
        table.update({name: found[name] for name in names if name in found})
    return table


# --- pytest-xdist --------------------------------------------------------------------------

XDIST = "xdist.plugin"


def _xdist_worker() -> tuple[str, str] | None:
    """In a worker of `--workers` (`-n`): its id as xdist names it ("gw0", ...) and the
    number of workers."""
    index = os.environ.get("DBTEST_WORKER_INDEX")
    if index is None:
        return None
    return f"gw{index}", os.environ.get("DBTEST_WORKER_COUNT", "1")


def testrun_uid_for_workers() -> None:
    """In the parent of a run with workers: one id the workers share (xdist's `testrun_uid`)."""
    os.environ.setdefault("DBTEST_TESTRUN_UID", uuid.uuid4().hex)


def _serve_xdist_worker(config: Any) -> None:
    """What pytest-xdist gives a worker: `PYTEST_XDIST_WORKER`, `..._WORKER_COUNT`,
    `PYTEST_XDIST_TESTRUNUID` and `config.workerinput`."""
    worker = _xdist_worker()
    if worker is None or not active(XDIST):
        return
    worker_id, count = worker
    uid = os.environ.setdefault("DBTEST_TESTRUN_UID", uuid.uuid4().hex)
    os.environ.update(PYTEST_XDIST_WORKER=worker_id, PYTEST_XDIST_WORKER_COUNT=count, PYTEST_XDIST_TESTRUNUID=uid)
    config.workerinput = {"workerid": worker_id, "workercount": int(count), "testrunuid": uid,
                          "mainargv": list(sys.argv)}


def _xdist_fixtures() -> dict[str, tuple[Callable[..., Any], str]]:
    def worker_id() -> str:
        worker = _xdist_worker()
        return worker[0] if worker is not None else "master"

    def testrun_uid() -> str:
        return os.environ.get("DBTEST_TESTRUN_UID") or uuid.uuid4().hex

    return {"worker_id": (worker_id, "session"), "testrun_uid": (testrun_uid, "session")}


# --- pytest-randomly --------------------------------------------------------------------------

RANDOMLY = "pytest_randomly"
_RANDOMLY_SEED = "DBTEST_RANDOMLY_SEED"


def randomly_flags(flags: dict[str, Any], python_settings: dict[str, Any]) -> dict[str, Any] | None:
    """pytest-randomly, installed and not disabled (`-p no:randomly`), shuffles the run with
    its seed (`--randomly-seed` is `--seed`): the flags of that run, when they are not
    `flags` already. The seed goes to the driver, and to workers, which reset `random` with
    it before each test."""
    _state.disabled = frozenset(python_settings.get("disabled_plugins") or ())
    if not active(RANDOMLY):
        return None
    seed = flags.get("seed")
    if seed is None:
        seed = random.Random().getrandbits(32)  # as pytest-randomly makes its seed
    os.environ[_RANDOMLY_SEED] = str(seed)
    if flags.get("random_order") and flags.get("seed") == seed:
        return None
    return {**flags, "random_order": True, "seed": seed}


def reseed(nodeid: Callable[[], str], phase: int) -> None:
    """pytest-randomly's reset of `random` (and numpy, faker, ... as its version does) before
    a test's setup (-1), call (0) and teardown (1): its seed plus the test id's crc32."""
    seed = _state.randomly_seed
    if seed is None:
        return
    offset = (zlib.crc32(nodeid().encode()) + phase) % 2**32
    try:
        plugin = importlib.import_module(RANDOMLY)
    except ImportError:
        random.seed(seed + offset)
        return
    plugin._reseed(_SeedOnly(seed), offset)


class _SeedOnly:
    """The `config` pytest-randomly's reseeding reads its seed from."""

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def getoption(self, name: str, default: Any = None) -> Any:
        return self._seed if name == "randomly_seed" else default


# --- pytest-codspeed -------------------------------------------------------------------------

CODSPEED = "pytest_codspeed.plugin"


class CodSpeedOutside:
    """pytest-codspeed's `benchmark` outside CodSpeed: the function is called once, as its
    plugin does when it does not measure (dbtest measures nothing either)."""

    def __init__(self) -> None:
        self.extra_info: dict[str, Any] = {}
        self._called = False

    def _once(self) -> None:
        if self._called:
            raise RuntimeError("The benchmark fixture can only be used once per test")
        self._called = True

    def __call__(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._once()
        return target(*args, **kwargs)

    def pedantic(self, target: Callable[..., Any], args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
                 setup: Callable[[], Any] | None = None, teardown: Callable[..., Any] | None = None,
                 rounds: int = 1, warmup_rounds: int = 0, iterations: int = 1) -> Any:
        self._once()
        kwargs = kwargs or {}
        if setup is not None:
            made = setup()
            if made is not None:
                args, kwargs = made
        result = target(*args, **kwargs)
        if teardown is not None:
            teardown(*args, **kwargs)
        return result


def _codspeed_fixtures() -> dict[str, tuple[Callable[..., Any], str]]:
    if os.environ.get("CODSPEED_ENV") is not None:
        _state.warn("CODSPEED_ENV is set, but dbtest does not measure with CodSpeed: each benchmark runs once")

    def codspeed_benchmark() -> CodSpeedOutside:
        return CodSpeedOutside()

    table = {"codspeed_benchmark": (codspeed_benchmark, "function")}
    if "pytest_benchmark.plugin" not in _entry_points():
        # pytest-codspeed's own `benchmark` stands in for pytest-benchmark's only without it.
        table["benchmark"] = (codspeed_benchmark, "function")
    return table


_OWN_FIXTURES: dict[str, Callable[[], dict[str, tuple[Callable[..., Any], str]]]] = {
    XDIST: _xdist_fixtures,
    CODSPEED: _codspeed_fixtures,
}


# --- anyio ------------------------------------------------------------------------------


def _hypothesis_inner(fn: Any) -> Any:
    """The test a hypothesis `@given` wraps, if it is one."""
    return getattr(getattr(fn, "hypothesis", None), "inner_test", None)


def implicit_fixtures(func: Any, is_coroutine: bool, marks: list[Any]) -> list[str]:
    """The fixtures a served plugin's collection hook adds to a test: anyio's gives a
    coroutine test (or a hypothesis test of one) with the `anyio` mark (any such test in
    auto mode) `anyio_backend`."""
    if not active(ANYIO):
        return []
    if not is_coroutine and not inspect.iscoroutinefunction(_hypothesis_inner(func)):
        return []
    if _state.anyio_auto or any(mark.name == "anyio" for mark in marks):
        return [ANYIO_BACKEND]
    return []


def anyio_requested(request: Any) -> bool:
    """Whether anyio's plugin runs this test's async fixtures: the test asks for
    `anyio_backend` (itself, or through a fixture it uses)."""
    if not active(ANYIO):
        return False
    node = request.node
    if node is not None and ANYIO_BACKEND in node.fixturenames:
        return True
    return request.callspec is not None and ANYIO_BACKEND in request.callspec.params


def _backend(value: Any) -> tuple[str, dict[str, Any]]:
    """anyio's reading of an `anyio_backend` value: a name, or `(name, options)`."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict):
        return value[0], value[1]
    raise TypeError("anyio_backend must be either a string or tuple of (string, dict)")


def _on_asyncio(options: dict[str, Any]) -> None:
    if options:
        _state.warn(
            f"anyio_backend options {sorted(options)} are not supported: dbtest runs asyncio-backend tests on "
            "the run's event loop, without them"
        )


def fixture_on_backend(func: Callable[..., Any], backend: Any) -> Callable[..., Any]:
    """An async fixture of a test that asks for `anyio_backend`, set up on that backend."""
    name, options = _backend(backend)
    if name == "asyncio":
        _on_asyncio(options)
        return func
    return _host.fixture(func, name, options)


def test_on_backend(fn: Callable[..., Any], request: Any) -> Callable[..., Any]:
    """The coroutine test, run on its `anyio_backend` when it has one (as anyio's
    `pytest_pyfunc_call`)."""
    if not active(ANYIO):
        return fn
    inner = _hypothesis_inner(fn)
    if not inspect.iscoroutinefunction(fn) and inner is None:
        return fn
    backend = request.values.get(ANYIO_BACKEND)
    if backend is None:
        backend = request.direct(ANYIO_BACKEND)[1]
    if not backend:
        return fn
    name, options = _backend(backend)
    if inner is not None:
        _hypothesis_on_backend(fn, inner, name, options, request.resolver.loop)
        return fn
    if name == "asyncio":
        _on_asyncio(options)
        return fn
    return _host.test(fn, name, options)


def _hypothesis_on_backend(fn: Any, inner: Any, name: str, options: dict[str, Any], loop: Any) -> None:
    """As anyio's plugin: hypothesis calls the coroutine test it wraps once per example, on
    the test's thread; each call runs on the backend (this test's: a hypothesis test may
    run on one backend, then on another)."""
    original = getattr(inner, "_dbtest_anyio_original", inner)
    if not inspect.iscoroutinefunction(original):
        return

    def run_on_backend(*args: Any, **kwargs: Any) -> None:
        if name == "asyncio":
            asyncio.run_coroutine_threadsafe(original(*args, **kwargs), loop).result()
        else:
            _host.run_sync(_run_test, functools.partial(original, *args), kwargs, name, options)

    run_on_backend._dbtest_anyio_original = original  # type: ignore[attr-defined]
    fn.hypothesis.inner_test = run_on_backend


_DONE = object()


class _Host:
    """anyio's test runner for backends other than asyncio, driven from one thread of its
    own (trio's guest run is pumped by the thread that calls into it). The loop awaits it."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._thread: int | None = None
        # The capture of the test that calls into the runner now (calls are one at a time).
        self.capture: _capture.Captured | None = None

    def _mark_thread(self) -> None:
        self._thread = threading.get_ident()

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="dbtest-anyio", initializer=self._mark_thread)
        return self._pool.submit(fn, *args)

    def run_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """For a thread that is not the loop's: waits here."""
        self._check_not_inside()
        return self._submit(_calling, fn, *args).result()

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self._submit(_calling, fn, *args))

    def _check_not_inside(self) -> None:
        if threading.get_ident() == self._thread:
            # anyio's own message: the runner is busy with the test that asks (on trio it
            # would wait for itself).
            raise RuntimeError(
                "Cannot schedule a coroutine in the test runner while another is already running; "
                "likely caused by request.getfixturevalue() on an async fixture."
            )

    def test(self, fn: Callable[..., Any], name: str, options: dict[str, Any]) -> Callable[..., Any]:
        async def on_backend(**kwargs: Any) -> None:
            await self._call(_run_test, fn, kwargs, name, options)

        return on_backend

    def fixture(self, func: Callable[..., Any], name: str, options: dict[str, Any]) -> Callable[..., Any]:
        self._check_not_inside()
        if inspect.isasyncgenfunction(inspect.unwrap(func)):
            async def steps_on_backend(**kwargs: Any) -> Any:
                steps = _fixture_steps(func, kwargs, name, options)
                yield await self._call(next, steps)
                await self._call(next, steps, _DONE)

            return steps_on_backend

        async def on_backend(**kwargs: Any) -> Any:
            return await self._call(_run_fixture, func, kwargs, name, options)

        return on_backend


_host = _Host()


def _calling(fn: Callable[..., Any], *args: Any) -> Any:
    """On the host thread: `fn`, with the capture of the test that asked for it."""
    _host.capture = _capture.current.get()
    return fn(*args)


def _captured(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with the capture of the test that calls into the runner now: the runner's tasks
    keep the context of the first call into it."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        token = _capture.current.set(_host.capture)
        try:
            return await fn(*args, **kwargs)
        finally:
            _capture.current.reset(token)

    return run


def _captured_steps(func: Callable[..., Any]) -> Callable[..., Any]:
    """An async generator fixture whose set-up and teardown each have the capture of the
    test that steps it."""

    async def steps(**kwargs: Any) -> Any:
        gen = func(**kwargs)
        yield await _captured(gen.asend)(None)
        try:
            await _captured(gen.asend)(None)
        except StopAsyncIteration:
            return
        await gen.aclose()
        yield None  # a second value: anyio's runner says the fixture did not stop

    return steps


def _runner(name: str, options: dict[str, Any]) -> Any:
    from anyio.pytest_plugin import get_runner

    return get_runner(name, options)


def _run_test(fn: Callable[..., Any], kwargs: dict[str, Any], name: str, options: dict[str, Any]) -> None:
    with _runner(name, options) as runner:
        runner.run_test(_captured(fn), kwargs)


def _run_fixture(func: Callable[..., Any], kwargs: dict[str, Any], name: str, options: dict[str, Any]) -> Any:
    with _runner(name, options) as runner:
        return runner.run_fixture(_captured(func), kwargs)


def _fixture_steps(func: Callable[..., Any], kwargs: dict[str, Any], name: str, options: dict[str, Any]) -> Iterator[Any]:
    """Set-up, then teardown, of an async generator fixture, each a step on the host thread;
    the runner stays open (a lease of anyio's) between them."""
    with _runner(name, options) as runner:
        yield from runner.run_asyncgen_fixture(_captured_steps(func), kwargs)
