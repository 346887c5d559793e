"""What the plugins in `plugins.ENGINE_SERVED` give a suite, served by the engine (DESIGN 4c).

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
import threading
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
    """The installed pytest plugins: module -> entry point name (what `-p no:NAME` names)."""
    from importlib.metadata import entry_points

    return {ep.value.split(":")[0]: ep.name for ep in entry_points(group="pytest11")}


class _State:
    """What the run's configuration says about the served plugins (set by `configure`)."""

    disabled: frozenset[str] = frozenset()
    anyio_auto = False
    warn: Callable[[str], None] = staticmethod(lambda _message: None)


_state = _State()


def configure(config: Any) -> None:
    """Reads the run's configuration: the plugins `-p no:NAME` disables, anyio's mode."""
    _state.disabled = frozenset(getattr(config._settings, "disabled_plugins", None) or ())
    _state.warn = config._warn
    _state.anyio_auto = active(ANYIO) and "auto" in (_ini(config, "anyio_mode"), config.getoption("anyio_mode", None))


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
    from .fixtures import fixtures_in

    table: dict[str, FixtureDef] = {}
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


# --- anyio ------------------------------------------------------------------------------


def implicit_fixtures(is_coroutine: bool, marks: list[Any]) -> list[str]:
    """The fixtures a served plugin's collection hook adds to a test: anyio's gives a
    coroutine test with the `anyio` mark (any coroutine test in auto mode) `anyio_backend`."""
    if not is_coroutine or not active(ANYIO):
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
    if not active(ANYIO) or not inspect.iscoroutinefunction(fn):
        return fn
    backend = request.values.get(ANYIO_BACKEND)
    if backend is None:
        backend = request.direct(ANYIO_BACKEND)[1]
    if not backend:
        return fn
    name, options = _backend(backend)
    if name == "asyncio":
        _on_asyncio(options)
        return fn
    return _host.test(fn, name, options)


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
