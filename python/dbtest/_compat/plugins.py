"""pytest plugins, found and ordered as pytest finds them (DESIGN section 4c), and the hooks
of plugins and conftests, called through pluggy with pytest's own hook specifications.

Which plugins: the `pytest11` entry points (unless PYTEST_DISABLE_PLUGIN_AUTOLOAD), `-p NAME`
and `-p no:NAME` from `addopts` and the command line, PYTEST_PLUGINS, `pytest_plugins` in
conftests and plugins (pytest's built-in names, `pytester`, are its `_pytest.` modules). A
plugin module is registered like a root conftest: its fixtures are visible to every test.

The plugin manager is pytest's own `PytestPluginManager` where pytest is installed: it brings
the installed pytest's hook specifications (argument names, `firstresult`, `historic`), its
rules for `-p`, blocked names, `pytest_plugins` and built-in names, and unmarked legacy hooks,
and it needs nothing of pytest's runner. Without pytest (no plugin can run then), a bare pluggy
manager serves conftests' hooks. Either is made only when a plugin or a conftest is there:
a run with neither pays for one look at sys.path's metadata folders, and imports neither
pluggy nor importlib.metadata.

Plugins whose job is the engine's (SERVED_BY_ENGINE) are never registered; the engine serves
them, and `dbtest._compat.served` may give their fixtures under their names (see `serve`).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config


@dataclass(frozen=True)
class Served:
    """A plugin whose job the engine does: never registered beside it."""

    distribution: str
    modules: tuple[str, ...]  # its plugin modules (entry points' targets), as prefixes
    how: str  # what serves it in dbtest
    options: tuple[str, ...] = ()  # its command-line options, as prefixes


SERVED_BY_ENGINE: tuple[Served, ...] = (
    Served("pytest-asyncio", ("pytest_asyncio",), "the run's event loop runs async tests and fixtures",
           ("--asyncio-",)),
    Served("anyio", ("anyio.pytest_plugin",), "@pytest.mark.anyio tests run on the run's event loop, or "
           "in anyio's runner for trio; its fixtures are served (dbtest._compat.served)", ("--anyio-",)),
    Served("pytest-xdist", ("xdist",), "-n N is --workers N; worker_id and testrun_uid are served",
           ("-n", "--numprocesses", "--maxprocesses", "--dist", "--tx", "--max-worker-restart")),
    Served("pytest-timeout", ("pytest_timeout",), "the engine's --timeout and @pytest.mark.timeout",
           ("--timeout", "--session-timeout")),
    Served("pytest-rerunfailures", ("pytest_rerunfailures",), "the engine's --retries and @pytest.mark.flaky",
           ("--reruns", "--only-rerun", "--rerun-except", "--fail-on-flaky")),
    Served("pytest-randomly", ("pytest_randomly",), "the engine's --random-order and its reseeding per test",
           ("--randomly-",)),
    Served("pytest-benchmark", ("pytest_benchmark",), "dbtest bench's engine measures `benchmark`",
           ("--benchmark-",)),
    Served("pytest-cov", ("pytest_cov",), "dbtest's --cov", ("--cov", "--no-cov")),
    Served("pytest-codspeed", ("pytest_codspeed",), "its `benchmark` outside CodSpeed: one call", ("--codspeed",)),
)


def served_by_engine(name: str) -> Served | None:
    """The engine-served plugin that `name` (a module, a distribution or an entry point's
    target) belongs to, if any."""
    for served in SERVED_BY_ENGINE:
        if name == served.distribution or any(name == m or name.startswith(m + ".") for m in served.modules):
            return served
    return None


# Hooks dbtest calls (through `config.hook`); any other hook a plugin or conftest implements
# gets one warning that names it and its plugin.
CALLED_HOOKS = frozenset(
    {
        "pytest_addhooks",
        "pytest_addoption",
        "pytest_plugin_registered",
        "pytest_load_initial_conftests",
        "pytest_configure",
        "pytest_sessionstart",
        "pytest_report_header",
        "pytest_generate_tests",
        "pytest_make_parametrize_id",
        "pytest_collectstart",
        "pytest_itemcollected",
        "pytest_collection_modifyitems",
        "pytest_collection_finish",
        "pytest_runtest_setup",
        "pytest_runtest_teardown",
        "pytest_runtest_makereport",
        "pytest_runtest_logreport",
        "pytest_sessionfinish",
        "pytest_terminal_summary",
        "pytest_unconfigure",
        "pytest_assertrepr_compare",
        # Called by plugins themselves (pytest's own implementation only counts).
        "pytest_deselected",
    }
)

ARGS_ENV = "DBTEST_PYTEST_ARGS"


def command_line_args() -> list[str]:
    """The pytest words given on dbtest's command line (`-p NAME`, a plugin's options), which
    the CLI hands to every process of the run."""
    raw = os.environ.get(ARGS_ENV)
    return list(json.loads(raw)) if raw else []


def file_or_dir() -> list[str]:
    """The paths of dbtest's command line (pytest's positional arguments)."""
    words = command_line_args()
    return [w for i, w in enumerate(words) if not w.startswith("-") and not (i and words[i - 1] == "-p")]


def pytest_args(config: Config) -> list[str]:
    """pytest's arguments as its parser sees them: `addopts`, then the command line."""
    return [*getattr(config._settings, "addopts", ()), *command_line_args()]


@functools.cache
def _installed() -> tuple[Any, ...]:
    """The environment's `pytest11` entry points (read once: it scans every distribution)."""
    if not _may_have_pytest11():
        return ()
    from importlib.metadata import entry_points

    return tuple(entry_points(group="pytest11"))


def _may_have_pytest11() -> bool:
    """Whether a distribution on sys.path may declare a `pytest11` entry point: its metadata
    folder's entry_points.txt has the group (a zip on sys.path may: it is not looked into).
    Most runs without plugins stop here, spared importing importlib.metadata."""
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as found:
                names = [e.name for e in found if e.name.endswith((".dist-info", ".egg-info", ".egg"))]
        except NotADirectoryError:
            return True
        except OSError:
            continue
        for name in names:
            folder = os.path.join(entry, name, "EGG-INFO" if name.endswith(".egg") else "")
            try:
                with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as f:
                    if "[pytest11]" in f.read():
                        return True
            except OSError:
                continue
    return False


def _entry_points() -> tuple[Any, ...]:
    """The entry points pytest loads by itself (`-p NAME` may still name one)."""
    return () if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else _installed()


def _pytest_installed() -> bool:
    if "pytest" in sys.modules:
        return True
    import importlib.util

    return importlib.util.find_spec("_pytest") is not None


def start(config: Config) -> None:
    """At the start of a run: the engine-served plugins installed are handed over, and the
    plugin manager is made if the run has a plugin to load (else when a conftest comes)."""
    if not _pytest_installed():
        return
    ordinary = False
    for ep in _entry_points():
        served = served_by_engine(ep.value.split(":")[0])
        if served is None:
            ordinary = True
        elif ep.name not in getattr(config._settings, "disabled_plugins", ()):
            serve_plugin(config, ep.name, served)
    if ordinary or os.environ.get("PYTEST_PLUGINS") or any(w.startswith("-p") for w in pytest_args(config)):
        make_manager(config)


def make_manager(config: Config) -> Any:
    """The run's plugin manager, with every plugin of the run registered and configured
    (options, `pytest_load_initial_conftests`, `pytest_configure`, `pytest_sessionstart`)."""
    with_pytest = _pytest_installed()
    if with_pytest:
        try:
            pm = _pytest_manager(config)
        except ImportError:  # found, but it does not import (shadowed or broken): no plugins
            with_pytest = False
    if not with_pytest:
        pm = _bare_manager()
    config._plugin_manager = pm
    for name in config._served_names:
        _register_served(pm, name)
    if with_pytest:
        import pluggy

        pluggy.HookimplMarker("pytest")(trylast=True)(_Reports.pytest_runtest_makereport)
        pm.register(_Reports(), name=_REPORTS_NAME)
    pm.hook.pytest_addhooks.call_historic(kwargs={"pluginmanager": pm})
    args = pytest_args(config)
    if with_pytest:
        _load_plugins(config, pm, args)
    from .config import Parser

    parser = Parser(config, args)
    config._parser = parser
    pm.hook.pytest_addoption.call_historic(kwargs={"parser": parser, "pluginmanager": pm})
    if with_pytest:
        call(config, "pytest_load_initial_conftests", early_config=config, parser=parser, args=args)
    if not config._configure_later:
        configure(config)
    return pm


def configure(config: Config) -> None:
    """`pytest_configure`, `pytest_sessionstart`, `pytest_report_header`: once the initial
    conftests are registered, as pytest (a conftest may register what a plugin's option names,
    as a hypothesis profile for `--hypothesis-profile`)."""
    config._configure_later = False
    config.pluginmanager.hook.pytest_configure.call_historic(kwargs={"config": config})
    call(config, "pytest_sessionstart", session=config.session)
    if implemented(config, "pytest_report_header"):
        report_header(config, call(config, "pytest_report_header", **_header_args(config)))


def _header_args(config: Config) -> dict[str, Any]:
    from .builtins import _legacy_path

    try:
        startdir = _legacy_path(config.rootpath)
    except Exception:  # noqa: BLE001 - pytest 7's legacy argument needs py.path
        startdir = None
    return {"config": config, "start_path": config.rootpath, "startdir": startdir}


def report_header(config: Config, lines: list[Any]) -> None:
    """What `pytest_report_header` returned, printed as pytest prints its header."""
    terminal = TerminalReporter(config)
    for found in reversed(lines):
        for line in [found] if isinstance(found, str) else found:
            terminal.line(str(line))


def session_started(config: Config, plugin: Any) -> None:
    """A conftest registered once the session has begun gets what pytest gives its initial
    conftests at the start: `pytest_sessionstart`, `pytest_report_header`."""
    if config._configure_later:  # an initial conftest: the start is still to come (`configure`)
        return
    pm = config.pluginmanager
    for name, kwargs in (("pytest_sessionstart", {"session": config.session}),
                         ("pytest_report_header", _header_args(config))):
        for impl in _impls(pm, name):
            if impl.plugin is plugin:
                made = impl.function(*(kwargs[arg] for arg in impl.argnames))
                if name == "pytest_report_header" and made:
                    report_header(config, [made])


def _bare_manager() -> Any:
    """Without pytest (no plugin can run then), conftests' hooks through pluggy: pytest's
    historic hooks are declared as pytest declares them; the others need no declaration."""
    import pluggy

    spec = pluggy.HookspecMarker("pytest")

    class HistoricHooks:
        @spec(historic=True)
        def pytest_addhooks(self, pluginmanager: Any) -> None: ...

        @spec(historic=True)
        def pytest_addoption(self, parser: Any, pluginmanager: Any) -> None: ...

        @spec(historic=True)
        def pytest_configure(self, config: Any) -> None: ...

        @spec(firstresult=True)
        def pytest_make_parametrize_id(self, config: Any, val: Any, argname: str) -> Any: ...

    class Manager(pluggy.PluginManager):
        def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
            # As pytest's manager: every `pytest_*` function is a hook, marked or not.
            opts = super().parse_hookimpl_opts(plugin, name)
            if opts is None and name.startswith("pytest_") and name != "pytest_plugins":
                import inspect

                if inspect.isroutine(getattr(plugin, name, None)):
                    return {}
            return opts

    pm = Manager("pytest")
    pm.add_hookspecs(HistoricHooks)
    return pm


def _pytest_manager(config: Config) -> Any:
    from _pytest.config import PytestPluginManager

    class Manager(PytestPluginManager):  # type: ignore[misc]
        """pytest's manager; a plugin the engine serves is handed over instead of imported,
        and each plugin registered is taken in (fixtures, hooks not called) as pytest would."""

        def import_plugin(self, modname: str, consider_entry_points: bool = False) -> None:
            served = served_by_engine(_entry_point_target(modname))
            if served is not None:
                serve_plugin(config, modname, served)
                return
            try:
                super().import_plugin(modname, consider_entry_points)
            except Exception as exc:  # noqa: BLE001 - a plugin may fail to import with anything
                config._warn(_import_failure(modname, exc))

        def register(self, plugin: Any, name: str | None = None) -> str | None:
            registered = super().register(plugin, name)
            if registered is not None and plugin is not self:
                _taken_in(config, self, plugin, registered)
            return registered

    return Manager()


def _entry_point_target(name: str) -> str:
    """The module an entry point named `name` loads (`-p asyncio` is pytest_asyncio.plugin)."""
    for ep in _installed():
        if ep.name == name:
            return str(ep.value.split(":")[0])
    return name


def _load_plugins(config: Config, pm: Any, args: list[str]) -> None:
    """pytest's order (`Config._preparse`): `-p` (blocks first), entry points, PYTEST_PLUGINS."""
    for arg in _plugin_args(args):
        if arg.startswith("no:"):
            pm.consider_pluginarg(arg)
    for name in getattr(config._settings, "disabled_plugins", ()):
        pm.consider_pluginarg(f"no:{name}")
    for arg in _plugin_args(args):
        if not arg.startswith("no:"):
            pm.consider_pluginarg(arg)
    for ep in _entry_points():
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        target = ep.value.split(":")[0]
        served = served_by_engine(target)
        if served is not None:
            serve_plugin(config, ep.name, served)
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - a plugin may fail to import with anything
            dist = getattr(ep, "dist", None)
            config._warn(_import_failure(f"{ep.name} ({dist.name if dist else ep.value})", exc))
            continue
        pm.register(plugin, name=ep.name)
    try:
        pm.consider_env()
    except Exception as exc:  # noqa: BLE001
        config._warn(_import_failure(os.environ.get("PYTEST_PLUGINS", ""), exc))


def _unclaimed(config: Config) -> list[str]:
    """The plugin options given (addopts', the command line's) that no plugin or conftest of
    the run defines, each with where it was given."""
    words = command_line_args()
    given = [(option, "option") for i, option in enumerate(words) if option.startswith("-")
             and not option.startswith("-p") and not (i and words[i - 1] == "-p")]
    ini = getattr(config._settings, "ini_file", None)
    given += [(option, f"{ini}: addopts option") for option in getattr(config._settings, "plugin_options", ())]
    out = []
    for option, where in given:
        name = option.split("=", 1)[0].split(" ", 1)[0]
        if name in config._option_dests:
            continue
        served = next((s for s in SERVED_BY_ENGINE if any(name.startswith(p) for p in s.options)), None)
        why = (f"it is {served.distribution}'s, whose job is dbtest's engine ({served.how})" if served is not None
               else "it is not dbtest's, and no pytest plugin or conftest of this run defines it")
        out.append(f"{where} {option} is ignored: {why}")
    return out


class UsageError(Exception):
    """pytest's usage error (exit 4): an option no plugin or initial conftest defines."""


def undefined_options(config: Config) -> list[str]:
    """The command line's options that no plugin or conftest registered so far defines."""
    words = command_line_args()
    return [w for i, w in enumerate(words) if w.startswith("-") and not w.startswith("-p")
            and not (i and words[i - 1] == "-p") and w.split("=", 1)[0] not in config._option_dests]


def initial_conftests(config: Config) -> list[str]:
    """The conftests pytest loads before it reads the command line: those from the rootdir
    down to each path given (else `testpaths`, else the current folder), and for a folder
    those of its `test*` subfolders, in the engine's spelling."""
    import glob
    from pathlib import Path

    root = config.rootpath.resolve()
    anchors = list(config.args)
    if not anchors and Path.cwd().resolve() == root:
        try:
            anchors = [p for pattern in config.getini("testpaths") for p in sorted(glob.iglob(pattern, recursive=True))]
        except ValueError:
            anchors = []
    found: list[str] = []
    for anchor in anchors or ["."]:
        target = Path(anchor).resolve()
        target = target if target.is_dir() else target.parent
        try:
            parts = target.relative_to(root).parts
        except ValueError:
            continue
        folders = [parts[:depth] for depth in range(len(parts) + 1)]
        folders += [(*parts, sub.name) for sub in sorted(target.glob("test*")) if sub.is_dir()]
        for folder in folders:
            conftest = config.rootpath.joinpath(*folder, "conftest.py")
            if conftest.is_file() and str(conftest) not in found:
                found.append(str(conftest))
    return found


def _plugin_args(args: list[str]) -> Iterable[str]:
    words = iter(args)
    for word in words:
        if word == "-p":
            value = next(words, None)
            if value is not None:
                yield value.strip()
        elif word.startswith("-p") and not word.startswith("--"):
            yield word[2:].strip()


def _import_failure(name: str, exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return (
        f"pytest plugin {name} could not be loaded ({type(cause).__name__}: {cause}); its fixtures "
        "and hooks are missing, so tests that use them fail. Install what it needs, or turn it off "
        f"with -p no:{name.split(' ')[0]} in addopts"
    )


def _taken_in(config: Config, pm: Any, plugin: Any, name: str) -> None:
    """A plugin just registered: a module's fixtures join the root of every test's lookup
    (a conftest's are its folder's: the driver reads them), and its hooks that dbtest does
    not call are named once."""
    conftest = name in config._conftest_names
    if isinstance(plugin, ModuleType) and not conftest and name not in config._served_names:
        from .fixtures import fixtures_in

        where = getattr(plugin, "__file__", None) or name
        config.plugin_fixtures.insert(0, fixtures_in(vars(plugin), where))
    uncalled = sorted(
        {hc.name for hc in (pm.get_hookcallers(plugin) or ()) if hc.name not in CALLED_HOOKS}
    )
    if uncalled:
        where = name if not conftest else getattr(plugin, "__file__", name)
        if name == str(id(plugin)):  # registered without a name (pluggy's default): its class names it
            where = f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        config._warn(
            f"{where}: hook{'s' if len(uncalled) > 1 else ''} {', '.join(uncalled)} "
            f"{'are' if len(uncalled) > 1 else 'is'} not called by dbtest; tests that depend on "
            f"{'them' if len(uncalled) > 1 else 'it'} may behave differently than under pytest"
        )


def serve_plugin(config: Config, name: str, served: Served) -> None:
    """An engine-served plugin found in the run: known by its name, as pytest knows a loaded
    plugin (`config.pluginmanager.hasplugin`); its fixtures are `dbtest._compat.served`'s,
    found by name like pytest's built-in ones."""
    if name in config._served:
        return
    config._served.add(name)
    serve(config, name, {})


def serve(config: Config, name: str, namespace: Mapping[str, Any]) -> None:
    """Gives every test the fixtures in `namespace` as the plugin `name` would (a root
    conftest's place in the lookup), and registers it under that name, so
    `config.pluginmanager.hasplugin(name)` is true. For the engine-served plugins."""
    from .fixtures import fixtures_in

    if namespace:
        config.plugin_fixtures.insert(0, fixtures_in(dict(namespace), f"<{name}, served by dbtest>"))
    config._served_names.append(name)
    if config._plugin_manager is not None:
        _register_served(config._plugin_manager, name)


def _register_served(pm: Any, name: str) -> None:
    if pm.get_plugin(name) is None and not pm.is_blocked(name):
        pm.register(ModuleType(name), name=name)


def call(config: Config, name: str, /, **kwargs: Any) -> Any:
    """`config.hook.<name>(...)` with the arguments the installed pytest's spec names (a hook
    whose arguments changed between pytest versions gets the ones its version has)."""
    caller = getattr(config.hook, name, None)
    if caller is None:  # no plugin implements it, and no spec declares it (no pytest)
        return None
    spec = caller.spec
    if spec is not None:
        kwargs = {k: v for k, v in kwargs.items() if k in spec.argnames}
    return caller(**kwargs)


def implemented(config: Config, name: str) -> bool:
    """Whether a plugin or conftest implements hook `name` (cheap: called around tests)."""
    pm = config._plugin_manager
    if pm is None:
        return False
    return any(impl.plugin_name != _REPORTS_NAME for impl in _impls(pm, name))


def _impls(pm: Any, name: str) -> list[Any]:
    caller = getattr(pm.hook, name, None)
    return caller.get_hookimpls() if caller is not None else []


def call_extra(config: Config, name: str, methods: list[Callable[..., Any]], kwargs: dict[str, Any]) -> None:
    """pytest's `hook.<name>.call_extra`: the plugins' and conftests' implementations, and
    `methods` (a test module's or class's own `pytest_generate_tests`)."""
    caller = getattr(config.hook, name, None)
    if caller is None:
        for method in methods:
            method(**kwargs)
        return
    caller.call_extra(methods, kwargs)




def collectstart(config: Config, path: str, rel: str) -> None:
    """`pytest_collectstart` for a test file dbtest is about to collect, with a `pytest.Module`
    that has what plugins read of it (`path`, `nodeid`, `config`); classes are not
    collectors in dbtest, and are not announced."""
    from pathlib import Path

    import pytest

    # A pytest node cannot be made outside pytest's collection (`from_parent` needs its
    # session); the object is only given to hooks, which read these attributes.
    module = object.__new__(pytest.Module)
    for name, value in (("name", Path(rel).name), ("parent", config.session), ("config", config),
                        ("session", config.session), ("path", Path(path)), ("_nodeid", rel),
                        ("own_markers", []), ("keywords", {}), ("stash", {})):
        object.__setattr__(module, name, value)
    call(config, "pytest_collectstart", collector=module)


def finish_session(config: Config) -> list[tuple[str, BaseException]]:
    """pytest's end of a session: `pytest_sessionfinish`, `pytest_terminal_summary` (what
    plugins print goes to the console), `pytest_unconfigure`. A plugin that sets a failing
    exit status (syrupy's unused snapshots) makes an error, as it fails pytest's run."""
    errors: list[tuple[str, BaseException]] = []
    session = config.session
    for warning in _unclaimed(config):
        config._warn(warning)
    for name, kwargs in (
        ("pytest_sessionfinish", {"session": session, "exitstatus": 0}),
        ("pytest_terminal_summary", {"terminalreporter": TerminalReporter(config), "exitstatus": 0, "config": config}),
        ("pytest_unconfigure", {"config": config}),
    ):
        if not implemented(config, name):
            continue
        try:
            call(config, name, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - a hook may raise anything
            errors.append((name, exc))
    status = int(getattr(session, "exitstatus", 0) or 0)
    if status:
        errors.append(("pytest_sessionfinish", SessionFailed(
            f"a plugin's pytest_sessionfinish set the exit status to {status}, which fails the run "
            "under pytest (see its summary above)"
        )))
    return errors


class SessionFailed(Exception):
    """A plugin failed the session (not any one test)."""


class TerminalReporter:
    """What `pytest_terminal_summary(terminalreporter)` writes to: dbtest's console."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stats: dict[str, list[Any]] = {}

    def write(self, content: str, **markup: Any) -> None:
        from .._capture import OUT, console_write

        console_write(content, OUT)

    def line(self, msg: str = "", **markup: Any) -> None:
        self.write(msg + "\n")

    write_line = line

    def ensure_newline(self) -> None:
        pass

    def write_sep(self, sep: str, title: str | None = None, **markup: Any) -> None:
        text = f" {title} " if title else ""
        side = max((78 - len(text)) // (2 * len(sep or "-")), 3)
        self.line(f"{sep * side}{text}{sep * side}")

    def section(self, title: str, sep: str = "=", **markup: Any) -> None:
        self.write_sep(sep, title)

    def getreports(self, name: str) -> list[Any]:
        return []


_REPORT_OUTCOME = {"passed": "passed", "skipped": "skipped", "xfailed": "skipped", "xpassed": "passed"}


def log_reports(config: Config, node: Any, result: Mapping[str, Any]) -> None:
    """pytest's reports of a test that ran (setup, call, teardown), through
    `pytest_runtest_makereport` (plugins' wrappers see and may change them) to
    `pytest_runtest_logreport`. Made from dbtest's result once the test ended."""
    from _pytest.reports import TestReport
    from _pytest.runner import CallInfo

    outcome = result["outcome"]
    failed_in = "setup" if outcome == "error" and not str(result.get("message") or "").startswith(
        "teardown") else ("teardown" if outcome == "error" else "call")
    skipped_at_setup = outcome == "skipped" or (outcome == "xfailed" and "[NOTRUN]" in str(result.get("message")))
    for when in ("setup", "call", "teardown"):
        if when == "call" and (skipped_at_setup or failed_in == "setup"):
            continue
        if when == failed_in and outcome in ("failed", "error", "timeout", "crashed"):
            phase_outcome, longrepr = "failed", result.get("traceback") or result.get("message") or ""
        elif when == "setup" and outcome == "skipped":
            phase_outcome, longrepr = "skipped", (str(node.path), node.location[1], result.get("message") or "")
        elif when == "call" and outcome in ("skipped", "xfailed", "xpassed"):
            phase_outcome = _REPORT_OUTCOME[outcome]
            longrepr = (str(node.path), node.location[1], result.get("message") or "") \
                if phase_outcome == "skipped" else None
        else:
            phase_outcome, longrepr = "passed", None
        call_info: Any = CallInfo(None, None, 0.0, 0.0, 0.0, when, _ispytest=True)
        made = None
        if implemented(config, "pytest_runtest_makereport"):
            made = _makereport(config, node, call_info, when, phase_outcome, longrepr, result)
        report = made if made is not None else _report(TestReport, node, when, phase_outcome, longrepr, result)
        if implemented(config, "pytest_runtest_logreport"):
            call(config, "pytest_runtest_logreport", report=report)


def _report(report_class: Any, node: Any, when: str, outcome: str, longrepr: Any,
            result: Mapping[str, Any]) -> Any:
    report = report_class(
        nodeid=node.nodeid, location=node.location, keywords=dict.fromkeys(node.keywords, 1),
        outcome=outcome, longrepr=longrepr, when=when,
        duration=result.get("duration_s", 0.0) if when == "call" else 0.0,
    )
    if result["outcome"] in ("xfailed", "xpassed") and when == "call":
        report.wasxfail = result.get("message") or ""
    return report


def _makereport(config: Config, node: Any, call_info: Any, when: str, outcome: str, longrepr: Any,
                result: Mapping[str, Any]) -> Any:
    """`pytest_runtest_makereport`: the plugins' and conftests' implementations and wrappers,
    over pytest's own (the report dbtest's result gives: `_Reports`)."""
    from _pytest.reports import TestReport

    node._dbtest_report = _report(TestReport, node, when, outcome, longrepr, result)
    try:
        return call(config, "pytest_runtest_makereport", item=node, call=call_info)
    finally:
        del node._dbtest_report


class _Reports:
    """pytest's own `pytest_runtest_makereport` (last, as pytest's built-in plugin is)."""

    def pytest_runtest_makereport(self, item: Any) -> Any:
        return getattr(item, "_dbtest_report", None)


_REPORTS_NAME = "dbtest-reports"
