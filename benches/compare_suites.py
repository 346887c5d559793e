#!/usr/bin/env python3
"""Real-suite comparison: ``pytest`` vs ``dbtest unit`` on the unmodified test suites of
public PyPI packages (issue 9).

Stdlib only (Python 3.11+). For each package pinned in PACKAGES below it downloads the sdist,
unpacks it, builds one venv (pytest, the package, its test dependencies, dbtest), then runs
``pytest TESTDIR`` and ``dbtest unit TESTDIR`` from the sdist root, alternating, R rounds,
and compares the outcome of every test id. It prints a Markdown table (per-suite counts,
ids seen by one runner only, outcome mismatches, flakiness, wall times and their ratio) and,
per package, the mismatches grouped by cause.

    python3 benches/compare_suites.py --wheel target/wheels/dbtest-*.whl
    python3 benches/compare_suites.py --only click,toolz --rounds 3 --write

Without --wheel it builds one with ``maturin build --release -o WORK/wheel``.
See benches/README.md ("compare_suites.py").
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from compare_unit import exit_text  # same folder: how a run's end is told

PLUGIN = HERE / "suites_pytest_outcomes.py"
PLUGIN_NAME = PLUGIN.stem

# ---------------------------------------------------------------------------
# The packages
# ---------------------------------------------------------------------------

PYTEST = "pytest==9.2.0"
ASYNCIO = "pytest-asyncio==1.5.0"
NO_COV = ("-o", "addopts=")  # an addopts that loads pytest-cov, which the venv does not have
# ... and dbtest, which reads the same addopts, is told not to measure either (dbtest's --cov
# needs coverage.py, which such a venv does not have).
DBTEST_NO_COV = ("--no-cov",)
PANELS = ("library", "application", "all")
# Plugins (besides pytest-*) whose versions the report names, as pip lists them (canonical names)
PLUGIN_DISTS = ("anyio", "trio", "hypothesis", "time_machine", "freezegun", "respx", "syrupy")


@dataclass(frozen=True)
class Package:
    name: str                        # the PyPI name
    version: str
    tests: str                       # the test folder (or file; several separated by spaces), from the sdist root
    deps: tuple[str, ...]            # extra test dependencies, pinned
    kind: str                        # a short label of the style, for the table
    style: str                       # what kind of suite it is
    pytest_args: tuple[str, ...] = ()  # for pytest only (dbtest reads the suite's config as is)
    dbtest_args: tuple[str, ...] = ()  # for dbtest only (DBTEST_NO_COV where pytest gets NO_COV)
    env: tuple[tuple[str, str], ...] = ()  # for the install and both runs
    panel: str = "library"           # library | application (PANELS)
    pytest: str | None = None        # the package's own pytest pin, which wins over --pytest
    pythonpath: tuple[str, ...] = ()  # folders (from the sdist root) the tests import from, for both runs
    # Files of the package's repository that its sdist lacks (path from the sdist root, where to
    # get them): copied from --extra-dir/NAME-VER/ into the unpacked tree before each run.
    extra_files: tuple[tuple[str, str], ...] = ()
    timeout: float | None = None     # seconds per command, when the suite needs more than --timeout

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def test_paths(self) -> list[str]:
        return self.tests.split()


# The application panel (issues 20 and 21): suites that lean on fixtures, async and plugins, with
# the test dependencies each project's own pyproject / tox.ini / requirements name, pinned to what
# pip resolved for pytest 9.2.0 on 7 December 2026 (unless the project pins them itself).
APP = "application"
ASYNCIO_APP = "pytest-asyncio==1.5.0"
TORTOISE_CONFTEST = ("conftest.py", ("the root conftest.py of github.com/tortoise/tortoise-orm (the db, db_module, "
                                     "db_simple, db_isolated, db_truncate fixtures; read at commit 04d8b464)"))

APPLICATION: list[Package] = [
    Package("structlog", "26.1.0", "tests",
            (ASYNCIO_APP, "pytest-randomly==5.1.0", "simplejson==4.3.0", "time-machine==3.6.0"),
            "async (auto), plugins",
            "pytest-asyncio auto mode, pytest-randomly (shuffles pytest's order and reseeds), time-machine; "
            "--import-mode=importlib, --strict-config, filterwarnings once; fixtures in a conftest and in "
            "classes; its optional rich/twisted/greenlet tests skip", panel=APP),
    Package("sqlite-utils", "4.2.1", "tests", ("hypothesis==6.170.29", "cogapp==3.6.1"),
            "fixtures, CLI",
            "conftest fixtures (fresh_db, existing_db, db_path on tmpdir) used by most tests, an autouse "
            "fixture that closes every database, pytest_addoption/pytest_configure hooks, click's "
            "CliRunner, parametrize, hypothesis; pandas/numpy tests skip", panel=APP),
    Package("arrow", "1.4.0", "tests",
            ("dateparser==1.5.0", "pytest-mock==3.17.0", "pytz==2025.2", "simplejson==3.20.2"),
            "classes, class fixtures",
            "pytest classes that take their data from conftest fixtures through "
            "@pytest.mark.usefixtures (class-scoped fixtures that set attributes on request.cls), "
            "pytest-mock's mocker; addopts loads pytest-cov and writes junit.xml (overridden for pytest)",
            pytest_args=NO_COV, panel=APP, dbtest_args=DBTEST_NO_COV),
    Package("humanize", "4.17.0", "src tests",
            ("freezegun==1.5.5", "pytest-benchmark==5.3.1", "pytest-codspeed==5.0.4"),
            "doctests, freezegun, benchmark",
            "--doctest-modules over src/ (testpaths src and tests), freezegun, parametrize-heavy, "
            "pytest-benchmark's benchmark fixture beside pytest-codspeed; filterwarnings error; "
            "minversion 9.0 (pytest 8 refuses the suite)", panel=APP),
    Package("aiocache", "0.12.3", "tests/ut",
            ("pytest-asyncio==0.20.3", "pytest-mock==3.10.0", "marshmallow==3.19.0", "msgpack==1.2.4",
             "aiomcache==0.8.0", "redis==4.4.2", "aiohttp==3.8.6"),
            "async (auto), old pytest, mocks",
            "its own pins: pytest 7.2 (here 7.4.4, the nearest that installs with its pytest-asyncio "
            "0.20.3 on Python 3.11; aiohttp 3.8.3 -> 3.8.6 and msgpack 1.0.4 -> 1.2.4 for wheels), "
            "pytest-asyncio auto mode, async fixtures, pytest-mock, filterwarnings error, xfail_strict; "
            "tests/ut as its Makefile runs it (acceptance tests need redis and memcached); addopts loads "
            "pytest-cov (overridden for pytest)",
            pytest_args=("-o", "addopts=--strict-markers"), pytest="pytest==7.4.4", panel=APP, dbtest_args=DBTEST_NO_COV),
    Package("tortoise-orm", "1.1.9", "tests",
            (ASYNCIO_APP, "pytz==2026.6", "pyyaml==6.0.4", "pydantic==2.14.4", "fastapi==0.165.0",
             "asgi-lifespan==2.1.0", "httpx==0.29.0", "pytest-codspeed==5.0.4"),
            "async fixtures (module), ORM",
            "async ORM tests in strict mode: module-scoped async fixture db_module under function-scoped "
            "db / db_simple / db_truncate (transactions rolled back per test), contextvars set in "
            "fixtures, sqlite in memory; the fixtures live in the repository's root conftest.py, which "
            "the sdist lacks (--extra-dir); deps: its test group and the part of its contrib group the "
            "tests import (pydantic, fastapi...); the blacksheep tests and other databases fail to import "
            "or skip on both sides, so pytest gets --continue-on-collection-errors (dbtest goes on past "
            "an unimportable file anyway)",
            pytest_args=("--continue-on-collection-errors",), extra_files=(TORTOISE_CONFTEST,), panel=APP),
    Package("python-dateutil", "4.0.0", "tests docs",
            ("freezegun==1.5.5", "hypothesis==6.170.29", "pytest-xdist==3.8.0", "pytest-cov==7.1.0",
             "attrs==26.1.0"),
            "unittest + pytest, tz",
            "unittest.TestCase and pytest tests side by side, python_files also *_test.py and "
            "*_solution.py (docs/exercises, as tox runs tests and docs), marks, freezegun, hypothesis, "
            "filterwarnings error, xfail_strict; a conftest hook adds pytest-cov's no_cover mark (unknown "
            "without pytest-cov: an internal error under filterwarnings error); pytest-xdist and "
            "pytest-cov loaded, not used", panel=APP),
    Package("attrs", "26.1.0", "tests",
            ("cloudpickle==3.1.3", "hypothesis==6.170.29", "pympler==1.1", "pytest-xdist[psutil]==3.8.0"),
            "hypothesis, importlib",
            "hypothesis-heavy, --import-mode=importlib (src not importable), --strict-config, "
            "xfail_strict, filterwarnings once, a conftest that skips files by Python version "
            "(collect_ignore); pytest-xdist loaded, not used", panel=APP),
    Package("aiofiles", "25.1.0", "tests", (ASYNCIO_APP,),
            "async (auto), files",
            "async tests in pytest-asyncio auto mode (asyncio_default_fixture_loop_scope set), "
            "parametrize over file modes and sizes, tmp_path, the executor's threads", panel=APP),
    Package("ormar", "0.26.0", "tests",
            (ASYNCIO_APP, "aiosqlite==0.22.1", "fastapi==0.165.0", "httpx==0.29.0", "asgi-lifespan==2.1.0",
             "faker==40.63.0", "pydantic-extra-types==2.11.1", "cryptography==48.0.1", "email-validator==2.4.0"),
            "async (module loops), FastAPI",
            "pytest-asyncio strict mode with module-scoped loops (asyncio_default_fixture_loop_scope and "
            "asyncio_default_test_loop_scope = module), autouse async fixtures that create and drop "
            "tables, FastAPI apps driven by httpx and asgi-lifespan, sqlite file test.db in the root; "
            "deps: its dev group and the extras the tests import (sqlite, crypto, pydantic[email])",
            panel=APP),
    Package("starlette", "1.10.0", "tests",
            ("itsdangerous==2.2.0", "jinja2==3.1.6", "opentelemetry-api==1.45.2", "python-multipart==0.0.34",
             "pyyaml==6.0.4", "httpx==0.28.1", "httpx2[zstd]==2.17.0", "blockbuster==1.5.29",
             "importlib-metadata==10.2.0", "opentelemetry-sdk==1.45.2", "trio==0.35.0"),
            "anyio plugin, asyncio+trio",
            "anyio's pytest plugin: @pytest.mark.anyio tests and fixtures parametrized by the "
            "anyio_backend fixture (asyncio and trio ids), a test_client_factory fixture, blockbuster; "
            "filterwarnings error with ignores, --strict-config, xfail_strict (deps: starlette[full] "
            "and its dev group)", panel=APP),
    Package("httpx", "0.28.1", "tests",
            ("brotli==1.2.1", "h2==4.4.1", "socksio==1.0.0", "zstandard==0.25.0", "click==8.5.1",
             "rich==13.9.4", "pygments==2.21.0", "chardet==5.2.0", "trio==0.27.0", "trustme==1.2.0",
             "uvicorn==0.32.1", "cryptography==44.0.0"),
            "anyio plugin, servers",
            "anyio's pytest plugin (@pytest.mark.anyio over asyncio and trio), session-scoped uvicorn "
            "server fixture in a thread, trustme certificates, filterwarnings error; deps as its "
            "requirements.txt at 0.28.1 pins them (httpx[brotli,cli,http2,socks,zstd])", panel=APP),
]


PACKAGES: list[Package] = [
    Package("toolz", "1.2.0", "toolz", (),
            "pytest functions",
            "pytest functions with plain asserts, tests inside the package (toolz/tests, "
            "toolz/sandbox/tests); strict markers, xfail_strict"),
    Package("more-itertools", "11.2.1", "tests", (),
            "unittest",
            "unittest.TestCase classes (765 tests), subTest in 83 places"),
    Package("click", "8.5.1", "tests", (),
            "fixture-heavy",
            "fixture-heavy: a conftest `runner` fixture used by ~300 tests, monkeypatch, tmp_path, "
            "capsys; 173 parametrize marks; addopts -m 'not stress'; filterwarnings error"),
    Package("packaging", "26.4", "tests", ("pretend==1.0.9", "hypothesis==6.170.17", "tomli-w==1.2.0"),
            "classes, parametrize",
            "pytest classes, heavy parametrize, addopts -m 'not property' and -p no:..., "
            "xfail_strict"),
    Package("itsdangerous", "2.2.0", "tests", ("freezegun==1.5.5",),
            "pytest classes",
            "pytest classes that subclass each other, class-level fixtures, a tests package"),
    Package("markupsafe", "3.0.4", "tests", (),
            "params fixture",
            "conftest fixture with params (C speedups vs pure Python) used by every test, "
            "parametrize"),
    Package("cachetools", "8.0.2", "tests", (),
            "unittest mixins",
            "unittest.TestCase mixins shared by many cache classes"),
    Package("jinja2", "3.1.6", "tests", ("trio==0.35.0",),
            "classes, conftest",
            "pytest classes using conftest fixtures (env, five loaders), parametrize, asyncio and "
            "trio tests driven by the tests themselves"),
    Package("idna", "3.20", "tests", ("hypothesis==6.170.17",),
            "unittest",
            "unittest.TestCase classes, large data-driven tests"),
    Package("colorama", "0.4.6", "colorama/tests", (),
            "unittest *_test.py",
            "unittest.TestCase in *_test.py files (pytest's default python_files), inside the package"),
    Package("simplejson", "4.3.0", "simplejson/tests", (),
            "unittest",
            "unittest.TestCase classes inside the package, C speedups"),
    Package("wcwidth", "0.9.4", "tests", (),
            "parametrize-heavy",
            "parametrize-heavy pytest functions, autouse conftest fixtures; addopts loads "
            "pytest-cov (overridden for pytest); WCWIDTH_PYTHON=1, as the sdist root's wcwidth/ "
            "(pure Python) shadows the installed C extension",
            pytest_args=("-o", "addopts=--ignore=wcwidth/wcwidth.py"),
            env=(("WCWIDTH_PYTHON", "1"),), dbtest_args=DBTEST_NO_COV),
    Package("frozenlist", "1.8.0", "tests", (),
            "pytest classes",
            "pytest classes: one mixin of tests run for the C and the pure-Python class; addopts loads pytest-cov "
            "(overridden for pytest); FROZENLIST_NO_EXTENSIONS=1 (pure Python build)",
            pytest_args=("-o", "addopts=--strict-markers"),
            env=(("FROZENLIST_NO_EXTENSIONS", "1"),), dbtest_args=DBTEST_NO_COV),
    Package("blinker", "1.9.0", "tests", (ASYNCIO,),
            "async (auto)",
            "async tests with pytest-asyncio (asyncio_mode = auto), filterwarnings error (pytest "
            "gets the loop scope pytest-asyncio warns about, or its warning is an error)",
            pytest_args=("-o", "asyncio_default_fixture_loop_scope=function")),
    Package("aiosignal", "1.4.0", "tests", (ASYNCIO,),
            "async (auto)",
            "async tests with pytest-asyncio (auto mode), fixtures; addopts loads pytest-cov "
            "(overridden for pytest)",
            pytest_args=("-o", "addopts=--strict-markers"), dbtest_args=DBTEST_NO_COV),
    Package("janus", "2.0.0", "tests", (ASYNCIO, "pytest-benchmark==5.3.1"),
            "async (strict), benchmark",
            "async tests with pytest-asyncio (strict mode, @pytest.mark.asyncio), threads, "
            "pytest-benchmark's benchmark fixture; addopts loads pytest-cov (overridden for pytest)",
            pytest_args=NO_COV, dbtest_args=DBTEST_NO_COV),
    Package("async-timeout", "5.0.1", "tests", (ASYNCIO,),
            "async (strict)",
            "async tests with pytest-asyncio (strict mode); addopts loads pytest-cov "
            "(overridden for pytest)",
            pytest_args=NO_COV, dbtest_args=DBTEST_NO_COV),
    Package("asgiref", "3.13.0", "tests", (ASYNCIO,),
            "async (strict), threads",
            "async tests with pytest-asyncio (strict mode), sync/async bridges, threads, "
            "contextvars"),
    *APPLICATION,
]

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

Log = Callable[[str], None]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def run_checked(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
                timeout: float = 1800) -> None:
    """Run a set-up step; raise RuntimeError with the output's tail when it fails."""
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}:\n{tail}")


def base_env() -> dict[str, str]:
    """The environment every step and run starts from (as the other benches: bytecode on)."""
    env = dict(os.environ)
    for k in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTHONPATH",
              "PYTEST_PLUGINS", "PYTHONSTARTUP"):
        env.pop(k, None)
    return env


# ---------------------------------------------------------------------------
# Set-up: sdist, source tree, venv, wheel
# ---------------------------------------------------------------------------


def download_sdist(pkg: Package, work: Path) -> Path:
    """The package's sdist under work/sdists/, downloaded once with pip."""
    d = work / "sdists"
    d.mkdir(parents=True, exist_ok=True)
    found = find_sdist(pkg, d)
    if found:
        return found
    run_checked([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", pkg.name,
                 "-d", str(d), f"{pkg.name}=={pkg.version}"], env=base_env())
    found = find_sdist(pkg, d)
    if not found:
        raise RuntimeError(f"pip download gave no sdist for {pkg.key} in {d}")
    return found


def find_sdist(pkg: Package, d: Path) -> Path | None:
    """NAME-VERSION.tar.gz (or .zip) in d, the name compared as PyPI normalizes it."""
    want = (canonical(pkg.name), pkg.version)
    for p in sorted(d.iterdir()):
        for ext in (".tar.gz", ".zip"):
            if p.name.endswith(ext):
                name, _, version = p.name[: -len(ext)].rpartition("-")
                if (canonical(name), version) == want:
                    return p
    return None


def unpack(sdist: Path, pkg: Package, work: Path) -> Path:
    """Unpack the sdist under work/src/ once (re-unpacked only when the sdist changes), so
    that ``__pycache__`` survives from run to run; return the sdist root."""
    dest = work / "src" / pkg.key
    stamp = dest / ".sdist-sha256"
    digest = sha256_file(sdist)
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return single_subdir(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as z:
            z.extractall(dest)
    else:
        with tarfile.open(sdist) as t:
            t.extractall(dest, filter="data")
    stamp.write_text(digest + "\n")
    return single_subdir(dest)


def has_pytest_config(root: Path) -> bool:
    """Whether the sdist root holds a pytest configuration (where pytest's search stops)."""
    checks = (("pytest.ini", None), (".pytest.ini", None), ("pyproject.toml", r"^\[tool\.pytest(\.ini_options)?\]"),
              ("tox.ini", r"^\[pytest\]"), ("setup.cfg", r"^\[tool:pytest\]"))
    for name, pattern in checks:
        f = root / name
        if f.is_file() and (pattern is None or re.search(pattern, f.read_text(errors="replace"), re.MULTILINE)):
            return True
    return False


def stop_config_search(root: Path) -> None:
    """Give an sdist without a pytest configuration an empty pytest.ini at its root: otherwise
    pytest (and dbtest) climb past it into this repository's pyproject.toml and run the suite
    with dbtest's own settings and rootdir. An empty file means pytest's defaults, as in the
    package's own checkout."""
    if not has_pytest_config(root):
        (root / "pytest.ini").write_text("")


def single_subdir(dest: Path) -> Path:
    subs = [p for p in dest.iterdir() if p.is_dir()]
    if len(subs) != 1:
        raise RuntimeError(f"expected one folder in {dest}, found {[p.name for p in subs]}")
    return subs[0]


def wheel_requires(wheel: Path) -> list[str]:
    """dbtest's own run-time requirements (Requires-Dist without an extra) from the wheel."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode("utf-8")
    reqs = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
    return [r for r in reqs if "extra ==" not in r and "extra==" not in r]


def pytest_pin(pkg: Package, default: str) -> str:
    """The pytest requirement a package's venv gets: its own pin, else the run's (--pytest)."""
    return pkg.pytest or default


def venv_dir(pkg: Package, pin: str, work: Path) -> Path:
    """work/venvs/NAME-VER for the default pytest, NAME-VER-pytestX.Y.Z for another pin, so
    that the venvs of runs under different pytest versions are all kept and reused."""
    suffix = "" if pin == PYTEST else "-pytest" + pin.split("==", 1)[-1]
    return work / "venvs" / (pkg.key + suffix)


def venv_inputs(pkg: Package, sdist: Path, requires: list[str], pin: str) -> dict[str, Any]:
    """Everything a venv is made from; a venv whose inputs match is reused as it is."""
    return {"python": sys.version, "python_exe": sys.executable, "pytest": pin,
            "deps": list(pkg.deps), "env": list(pkg.env), "dbtest_requires": requires,
            "sdist": sdist.name, "sdist_sha256": sha256_file(sdist), "layout": 1}


def ensure_venv(pkg: Package, sdist: Path, requires: list[str], work: Path, pin: str, say: Log) -> Path:
    """venv_dir() with pytest (pin), the package's test deps, the package from its sdist and
    dbtest's requirements. dbtest itself is (re)installed by install_dbtest before every run."""
    venv = venv_dir(pkg, pin, work)
    stamp = venv / ".inputs.json"
    inputs = venv_inputs(pkg, sdist, requires, pin)
    py = venv / "bin" / "python"
    if py.exists() and stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == inputs:
                say(f"  venv reused: {venv}")
                return venv
        except ValueError:
            pass
    if venv.exists():
        shutil.rmtree(venv)
    say(f"  building venv {venv}")
    env = {**base_env(), **dict(pkg.env)}
    run_checked([sys.executable, "-m", "venv", str(venv)], env=env)
    pip = [str(py), "-m", "pip", "install", "-q"]
    run_checked([*pip, pin, *pkg.deps], env=env)
    # From the sdist archive: the same files as the unpacked tree, without leaving build/ and
    # *.egg-info in the tree the tests run from.
    run_checked([*pip, str(sdist)], env=env)
    if requires:  # after the package, so that e.g. click's own sdist is the click installed
        run_checked([*pip, *requires], env=env)
    stamp.write_text(json.dumps(inputs, indent=1) + "\n")
    return venv


DBTEST_DISTS = ("dbtest", "dbtest-engine")  # names dbtest's distribution has had


def install_dbtest(venv: Path, wheel: Path) -> None:
    """dbtest from the wheel, replacing whatever dbtest the venv had, also one installed under
    another distribution name (whose files would otherwise linger beside the new ones)."""
    py = str(venv / "bin" / "python")
    names = {*DBTEST_DISTS, wheel.name.split("-", 1)[0].replace("_", "-")}
    subprocess.run([py, "-m", "pip", "uninstall", "-q", "-y", *sorted(names)], env=base_env(),
                   capture_output=True, check=False)
    run_checked([py, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)],
                env=base_env())


def lock_work_dir(work: Path, say: Log) -> Any:
    """An exclusive lock on WORK/.lock for the whole run: two runs on one work folder would
    reinstall dbtest into each other's venvs and overwrite each other's reports."""
    import fcntl

    f = open(work / ".lock", "w")  # noqa: SIM115 (held until the process ends)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"another compare_suites run holds {work / '.lock'}; waiting for it (or use --work-dir)")
        fcntl.flock(f, fcntl.LOCK_EX)
    return f


def find_maturin(arg: str | None) -> str:
    for cand in (arg, shutil.which("maturin"), "/work/dev/bin/maturin"):
        if cand and Path(cand).is_file():
            return cand
    raise RuntimeError("maturin not found: pass --maturin PATH or --wheel PATH")


def build_wheel(work: Path, maturin: str, say: Log) -> Path:
    out = work / "wheel"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    say(f"building the dbtest wheel: {maturin} build --release -o {out}")
    t0 = time.perf_counter()
    run_checked([maturin, "build", "--release", "-o", str(out)], cwd=REPO, env=base_env(), timeout=7200)
    wheels = sorted(out.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RuntimeError(f"maturin left no wheel in {out}")
    say(f"  built {wheels[-1].name} in {time.perf_counter() - t0:.0f} s")
    return wheels[-1]


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


@dataclass
class Run:
    tool: str                  # pytest | dbtest
    round: int
    seconds: float
    rc: int | None             # None: killed (SIGKILL) after the timeout and the grace period
    outcomes: dict[str, str] | None       # id -> outcome; None when no report was written
    messages: dict[str, str | None] = field(default_factory=dict)
    output_tail: str = ""
    warnings: list[str] = field(default_factory=list)
    timed_out: bool = False    # interrupted at the timeout; its report, if any, is partial
    deselected: set[str] = field(default_factory=set)  # pytest only: ids -m / -k / hooks took out

    @property
    def complete(self) -> bool:
        return self.outcomes is not None and not self.timed_out

    @property
    def status(self) -> str:
        if self.timed_out:  # a hang of the suite (or of the runner), not an error of this harness
            how = "killed" if self.rc is None else "stopped by SIGINT"
            return f"hang: running at {self.seconds:.0f} s, {how}" + (", partial report" if self.outcomes else "")
        if self.rc is None:
            return "killed"
        if self.outcomes is None:
            return f"no report ({exit_text(self.rc)})"
        return exit_text(self.rc)


def run_env(pkg: Package, venv: Path, plugin_dir: Path, root: Path) -> dict[str, str]:
    """The same environment for pytest and dbtest: the venv first on PATH, the plugin's folder
    (holding nothing else) on PYTHONPATH, then the folders the suite's tests import from."""
    env = {**base_env(), **dict(pkg.env)}
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir), *(str(root / d) for d in pkg.pythonpath)])
    return env


def add_extra_files(pkg: Package, root: Path, extra_dir: Path | None) -> None:
    """Copy the files the sdist lacks (Package.extra_files) from extra_dir/NAME-VER/ into the
    unpacked tree; a missing one fails the package's set-up, naming where to get it."""
    for rel, source in pkg.extra_files:
        src = extra_dir / pkg.key / rel if extra_dir else None
        if src is None or not src.is_file():
            where = f"{extra_dir / pkg.key / rel}" if extra_dir else f"--extra-dir DIR (DIR/{pkg.key}/{rel})"
            raise RuntimeError(f"{rel} is not in the sdist of {pkg.key}; put {source} at {where}")
        shutil.copy2(src, root / rel)


GRACE_S = 20.0  # after SIGINT at the timeout, time to write the partial report


def timed(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[float, int | None, bool, str]:
    """Wall clock of one command, its exit code, whether it hit the timeout, and its output.
    At the timeout the process group gets SIGINT (both runners then write what they have:
    pytest's sessionfinish, dbtest's partial report), and SIGKILL (exit code None) if it is
    still there GRACE_S later."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        try:
            rc: int | None = proc.wait(timeout=timeout)
            seconds = time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            seconds, timed_out = time.perf_counter() - t0, True
            signal_group(proc.pid, signal.SIGINT)
            try:
                rc = proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = None
        # What the suite started and left behind (a test server, a worker) goes with it: it
        # would load the machine during the next runs.
        signal_group(proc.pid, signal.SIGKILL)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return seconds, rc, timed_out, text


def signal_group(pgid: int, sig: int) -> None:
    """Signal the process group the command leads (started with start_new_session), if any is left."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_pytest(pkg: Package, root: Path, venv: Path, env: dict[str, str], report: Path,
               timeout: float, rnd: int) -> Run:
    argv = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", PLUGIN_NAME, *pkg.pytest_args, *pkg.test_paths]
    report.unlink(missing_ok=True)
    seconds, rc, timed_out, text = timed(argv, root, {**env, "SUITES_OUTCOMES_JSON": str(report)}, timeout)
    run = Run("pytest", rnd, seconds, rc, None, output_tail=tail(text), timed_out=timed_out)
    if report.is_file():
        try:
            data = json.loads(report.read_text())
        except ValueError:
            return run
        prefix = os.path.relpath(data.get("rootdir", root), data.get("cwd", root))
        fix = (lambda i: i) if prefix == "." else (lambda i: f"{prefix}/{i}")
        run.outcomes = {fix(t["id"]): t["outcome"] for t in data["tests"]}
        run.messages = {fix(t["id"]): t.get("message") for t in data["tests"]}
        run.deselected = {fix(i) for i in data.get("deselected", [])}
    return run


WARNING_RE = re.compile(r"^\s*(warning|warn)\b.*", re.IGNORECASE | re.MULTILINE)


def run_dbtest(pkg: Package, root: Path, venv: Path, env: dict[str, str], report: Path,
               timeout: float, rnd: int) -> Run:
    argv = [str(venv / "bin" / "dbtest"), "unit", *pkg.dbtest_args, *pkg.test_paths, "--json", str(report)]
    report.unlink(missing_ok=True)
    seconds, rc, timed_out, text = timed(argv, root, env, timeout)
    run = Run("dbtest", rnd, seconds, rc, None, output_tail=tail(text), timed_out=timed_out)
    run.warnings = list(dict.fromkeys(m.group(0).strip() for m in WARNING_RE.finditer(text)))
    if report.is_file():
        try:
            data = json.loads(report.read_text())
        except ValueError:
            return run
        run.outcomes = {t["id"]: t["outcome"] for t in data.get("tests", [])}
        run.messages = {t["id"]: t.get("message") for t in data.get("tests", [])}
    return run


def tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------

COUNTED = ("passed", "failed", "skipped", "xfailed", "error")


def first_line(msg: str | None, limit: int = 200) -> str:
    if not msg:
        return ""
    line = next((ln.strip() for ln in msg.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def cause_key(msg: str | None) -> str:
    """A message's first line with addresses and long numbers blurred, to group alike causes."""
    line = first_line(msg, 160)
    line = re.sub(r"0x[0-9a-fA-F]+", "0x…", line)
    return re.sub(r"\b\d{4,}\b", "N", line)


def cause_template(line: str) -> str:
    """A cause with the names and numbers in it blurred ('x', "y", `z`, 12 -> …), so that one
    gap of dbtest (say, a fixture it does not find) counts as one cause over every name."""
    line = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "'…'", line)
    line = re.sub(r"<[^<>]* at 0x…>", "<…>", line)
    return re.sub(r"\b\d+(\.\d+)?\b", "N", line)


def causes(r: Result) -> list[dict[str, Any]]:
    """Every id that differs between the runners (outcome mismatch, or reported by one only), by
    cause, most ids first. A mismatch's cause is the first line of dbtest's message (pytest's
    when dbtest has none), prefixed with the two outcomes; an id on one side only has the cause
    group_missing gives it (e.g. the other runner's error for its file, with that message)."""
    c = r.comparison
    p, d = reference(r.of("pytest")), reference(r.of("dbtest"))
    if c is None:
        return []
    members: dict[str, list[tuple[str, str]]] = defaultdict(list)  # template -> (id, concrete cause)
    counterparts: dict[str, dict[str, str]] = {}  # template -> one test's id in each runner
    verdicts: dict[str, Counter] = defaultdict(Counter)  # template -> the failing outcomes of its ids
    if p and d:
        for g in group_mismatches(c.mismatches, p, d):
            concrete = f"{g['pytest']} -> {g['dbtest']}: {g['cause'] or '(no message)'}"
            members[f"{g['pytest']} -> {g['dbtest']}: {cause_template(g['cause'])}"] += [(i, concrete) for i in g["ids"]]
    for ids, mine, other, names in ((c.only_pytest, p, d, ("pytest", "dbtest")),
                                    (c.only_dbtest, d, p, ("dbtest", "pytest"))):
        if ids and mine is not None:
            for g in group_missing(ids, mine, other, names):
                concrete = f"only {names[0]}: {g['cause']}"
                template = f"only {names[0]}: {cause_template(g['cause'])}"
                members[template] += [(i, concrete) for i in g["ids"]]
                own_out = mine.outcomes or {}
                for i in g["ids"]:  # what the one runner made of them: an error there is the cause to fix
                    if own_out.get(i) in ("error", "failed"):
                        verdicts[template][f"{names[0]} {own_out[i]}: {cause_key(mine.messages.get(i))}"] += 1
                o_ids = (other.outcomes if other else None) or {}
                for ex in g["examples"][:1] if "parametriz" in g["cause"] else []:
                    same_test = sorted(o for o in o_ids if base_of(o) == base_of(ex) and o not in (mine.outcomes or {}))
                    if same_test:
                        counterparts.setdefault(template, {names[0]: ex, names[1]: same_test[0]})
    out = []
    for template, pairs in sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        ids = [i for i, _ in pairs]
        out.append({"cause": template, "count": len(pairs),
                    "variants": dict(Counter(v for _, v in pairs).most_common()),
                    "files": dict(Counter(file_of(i) for i in ids).most_common()),
                    "examples": spread(ids, file_of, 5), "pair": counterparts.get(template, {}),
                    "failing": dict(verdicts[template].most_common(3))})
    return out


def file_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def class_of(test_id: str) -> str | None:
    parts = test_id.split("::")
    return "::".join(parts[:2]) if len(parts) > 2 else None


def base_of(test_id: str) -> str:
    return test_id.split("[", 1)[0]


def classify_missing(test_id: str, mine: Run, other: Run | None, names: tuple[str, str]) -> tuple[str, str]:
    """Why an id that one runner reported is absent from the other's run: (cause, prefix), the
    prefix being what the ids of one cause are counted by (a file, a class, a test name)."""
    me, other_name = names
    o_out = (other.outcomes if other else None) or {}
    o_msg = other.messages if other else {}
    own = mine.outcomes or {}
    f = file_of(test_id)
    cut = " (its run was interrupted at the timeout)" if other and other.timed_out else ""
    if other and test_id in other.deselected:
        return f"deselected by {other_name} (-m / -k, also from addopts, or a conftest hook)", base_of(test_id)
    if "::" not in test_id or test_id.startswith("<"):
        # an entry of its own: a file that failed to import or collect, a session hook, ...
        return f"{me} error entry: {first_line(mine.messages.get(test_id), 140)}", f
    if f in o_out and o_out[f] == "error":  # the other runner's entry for this whole file
        return f"file error in {other_name}: {first_line(o_msg.get(f), 140)}", f
    if not any(file_of(i) == f for i in o_out):
        return f"file not run by {other_name}{cut}", f
    cls = class_of(test_id)
    if cls and not any(i.startswith(cls + "::") for i in o_out):
        return f"class not collected by {other_name}{cut}", cls
    base = base_of(test_id)
    if "[" in test_id and any(base_of(i) == base and i not in own for i in o_out):
        return "parametrize ids differ", base
    if "[" not in test_id and any(base_of(i) == base for i in o_out):
        return f"parametrized only in {other_name}", base
    if "[" in test_id and not any(base_of(i) == base for i in o_out):
        return f"parametrized test not collected by {other_name}{cut}", base
    return f"test not collected by {other_name}{cut}", f


@dataclass
class Comparison:
    pytest_counts: Counter
    dbtest_counts: Counter
    only_pytest: list[str]
    only_dbtest: list[str]
    mismatches: list[str]
    flaky_dbtest: list[str]
    flaky_pytest: list[str]


def counts(outcomes: dict[str, str] | None) -> Counter:
    return Counter(outcomes.values()) if outcomes else Counter()


def flaky_ids(runs: list[Run]) -> list[str]:
    """Ids whose outcome differed between complete rounds (absent in one counts as differing)."""
    reports = [r.outcomes for r in runs if r.complete and r.outcomes is not None]
    if len(reports) < 2:
        return []
    ids = set().union(*reports)
    return sorted(i for i in ids if len({rep.get(i) for rep in reports}) > 1)


def reference(runs: list[Run]) -> Run | None:
    """The run the comparison uses: the first complete one, else the first with a (partial) report."""
    return next((r for r in runs if r.complete), None) or next((r for r in runs if r.outcomes is not None), None)


def compare(p_runs: list[Run], d_runs: list[Run]) -> Comparison:
    p, d = reference(p_runs), reference(d_runs)
    po, do = (p.outcomes if p else None) or {}, (d.outcomes if d else None) or {}
    return Comparison(
        pytest_counts=counts(po), dbtest_counts=counts(do),
        only_pytest=[i for i in po if i not in do] if do or d else [],
        only_dbtest=[i for i in do if i not in po] if po or p else [],
        mismatches=[i for i in po if i in do and po[i] != do[i]],
        flaky_dbtest=flaky_ids(d_runs), flaky_pytest=flaky_ids(p_runs),
    )


def group_mismatches(ids: list[str], p: Run, d: Run) -> list[dict[str, Any]]:
    """Ids both reported with different outcomes, by (pytest's, dbtest's outcome, dbtest's
    message; pytest's message when dbtest gave none)."""
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for i in ids:
        key = cause_key(d.messages.get(i)) or ("pytest: " + cause_key(p.messages.get(i)))
        groups[(p.outcomes[i], d.outcomes[i], key)].append(i)
    out = []
    for (po, do, key), members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        ex = members[0]
        out.append({"pytest": po, "dbtest": do, "cause": key, "count": len(members),
                    "dbtest_message": first_line(d.messages.get(ex)),
                    "pytest_message": first_line(p.messages.get(ex)),
                    "files": dict(Counter(file_of(m) for m in members).most_common()),
                    "examples": spread(members, file_of), "ids": members})
    return out


def spread(ids: list[str], key: Callable[[str], str], n: int = 10) -> list[str]:
    """Up to n of ids, taken in turn from each key's ids, so examples show every prefix."""
    buckets: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        buckets[key(i)].append(i)
    out: list[str] = []
    while len(out) < min(n, len(ids)):
        for b in buckets.values():
            if b and len(out) < n:
                out.append(b.pop(0))
    return out


def group_missing(ids: list[str], mine: Run, other: Run | None, names: tuple[str, str]) -> list[dict[str, Any]]:
    """The ids only `mine` reported, by cause; each cause counts its ids by prefix."""
    own, o_out = mine.outcomes or {}, (other.outcomes if other else None) or {}
    by_cause: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for i in ids:
        cause, prefix = classify_missing(i, mine, other, names)
        by_cause[cause].append((i, prefix))
    out = []
    for cause, members in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        prefix_of = dict(members)
        member_ids = [i for i, _ in members]
        g: dict[str, Any] = {
            "cause": cause, "count": len(members),
            "prefixes": dict(Counter(p for _, p in members).most_common()),
            "outcomes": dict(Counter(own[i] for i in member_ids).most_common()),
            "examples": spread(member_ids, prefix_of.__getitem__), "ids": member_ids}
        if cause == "parametrize ids differ":
            bases = set(prefix_of.values())
            g["other_examples"] = spread(sorted(i for i in o_out if base_of(i) in bases and i not in own),
                                         base_of, 5)
        out.append(g)
    return out


# ---------------------------------------------------------------------------
# One package
# ---------------------------------------------------------------------------


@dataclass
class Result:
    pkg: Package
    pytest: str = PYTEST                # the pytest requirement the venv was built with
    setup_error: str | None = None
    runs: list[Run] = field(default_factory=list)
    comparison: Comparison | None = None
    setup_seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)  # what the venv holds (pip list)

    def of(self, tool: str) -> list[Run]:
        return [r for r in self.runs if r.tool == tool]

    def median(self, tool: str) -> float | None:
        times = [r.seconds for r in self.of(tool) if not r.timed_out and r.rc is not None]
        return statistics.median(times) if times else None


@dataclass(frozen=True)
class Options:
    """What one invocation applies to every package."""
    wheel: Path
    work: Path
    rounds: int
    timeout: float
    pytest: str                       # the pytest requirement of packages without their own pin
    sdist_dirs: tuple[Path, ...] = ()  # searched for an sdist before work/sdists (and pip)
    extra_dir: Path | None = None     # Package.extra_files, under NAME-VER/


def installed_versions(venv: Path) -> dict[str, str]:
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
                       env=base_env(), capture_output=True, text=True, check=False, timeout=120)
    try:
        return {canonical(d["name"]): d["version"] for d in json.loads(r.stdout)}
    except (ValueError, KeyError, TypeError):
        return {}


def run_package(pkg: Package, opts: Options, say: Log) -> Result:
    """Set up and run one package; whatever goes wrong is recorded in its Result, so that one
    package's failure (or a fault of this harness) never loses the others' results."""
    res = Result(pkg, pytest=pytest_pin(pkg, opts.pytest))
    try:
        run_rounds(res, opts, say)
    except Exception as e:  # noqa: BLE001 (reported in the package's row, the run goes on)
        import traceback

        res.setup_error = res.setup_error or f"harness error: {type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
        say(f"  {res.setup_error}")
    if res.runs and res.comparison is None:
        res.comparison = compare(res.of("pytest"), res.of("dbtest"))
    return res


def run_rounds(res: Result, opts: Options, say: Log) -> None:
    pkg, work = res.pkg, opts.work
    t0 = time.perf_counter()
    try:
        sdist = next((f for d in opts.sdist_dirs if d.is_dir() and (f := find_sdist(pkg, d))), None) \
            or download_sdist(pkg, work)
        root = unpack(sdist, pkg, work)
        stop_config_search(root)
        add_extra_files(pkg, root, opts.extra_dir)
        missing = [t for t in pkg.test_paths if not (root / t).exists()]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not found in the sdist ({root})")
        venv = ensure_venv(pkg, sdist, wheel_requires(opts.wheel), work, res.pytest, say)
        install_dbtest(venv, opts.wheel)
        res.versions = installed_versions(venv)
        want = res.pytest.split("==", 1)[-1]
        if res.versions.get("pytest") != want:
            raise RuntimeError(f"the venv holds pytest {res.versions.get('pytest')}, not {want} "
                               "(a test dependency moved it)")
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        res.setup_error = str(e)
        say(f"  set-up failed: {e}")
        return
    res.setup_seconds = time.perf_counter() - t0
    plugin_dir = work / "plugin"
    env = run_env(pkg, venv, plugin_dir, root)
    reports = work / "reports" / venv.name
    reports.mkdir(parents=True, exist_ok=True)
    timeout = pkg.timeout or opts.timeout
    for rnd in range(1, opts.rounds + 1):
        for tool, fn in (("pytest", run_pytest), ("dbtest", run_dbtest)):
            r = fn(pkg, root, venv, env, reports / f"{tool}-{rnd}.json", timeout, rnd)
            res.runs.append(r)
            c = counts(r.outcomes)
            say(f"  round {rnd} {tool:<6} {r.seconds:7.2f} s  {r.status:<22} "
                + " ".join(f"{k} {c[k]}" for k in COUNTED if c[k]))
    res.comparison = compare(res.of("pytest"), res.of("dbtest"))


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def fmt_counts(c: Counter, run: Run | None) -> str:
    if run is None or run.outcomes is None:
        return run.status if run else "—"
    s = "/".join(str(c[k]) for k in COUNTED)
    extra = [f"{c[k]} {k}" for k in sorted(c) if k not in COUNTED and c[k]]
    s += " + " + ", ".join(extra) if extra else ""
    return s + (f" (partial: hang at {run.seconds:.0f} s)" if run.timed_out else "")


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def ratio(d: float | None, p: float | None) -> str:
    return "—" if d is None or not p else f"{d / p:.2f}x"


def time_cell(r: Result, tool: str, median: float | None) -> str:
    runs = r.of(tool)
    if median is None and runs and all(x.timed_out for x in runs):
        return f"hang ({runs[0].seconds:.0f})"
    return fmt_s(median)


def table(results: list[Result]) -> list[str]:
    lines = [
        ("| package | style | pytest p/f/s/x/e | dbtest p/f/s/x/e | ids | same outcome | only pytest | only dbtest "
         "| outcome mismatches | dbtest flaky | pytest s | dbtest s | dbtest/pytest |"),
        "|---|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    tot_p = tot_d = 0.0
    all_timed = True
    sums = Counter()
    for r in results:
        name = f"{r.pkg.name} {r.pkg.version}" + (f" (pytest {r.pkg.pytest.split('==', 1)[-1]})" if r.pkg.pytest else "")
        short = r.pkg.kind
        if r.setup_error or not r.comparison:
            lines.append(f"| {name} | {short} | set-up failed | | | | | | | | | | |")
            all_timed = False
            continue
        c = r.comparison
        p_ref, d_ref = reference(r.of("pytest")), reference(r.of("dbtest"))
        pm, dm = r.median("pytest"), r.median("dbtest")
        if pm is None or dm is None:
            all_timed = False
        else:
            tot_p, tot_d = tot_p + pm, tot_d + dm
        flaky = f"{len(c.flaky_dbtest)} ids" if c.flaky_dbtest else ("no" if len(r.of("dbtest")) > 1 else "n/a (1 round)")
        n_ids = sum(c.pytest_counts.values()) + len(c.only_dbtest)  # reported by either runner
        same = sum(c.pytest_counts.values()) - len(c.only_pytest) - len(c.mismatches)
        sums.update({"ids": n_ids, "same": same,
                     "only_p": len(c.only_pytest), "only_d": len(c.only_dbtest), "mis": len(c.mismatches),
                     "p_total": sum(c.pytest_counts.values()), "d_total": sum(c.dbtest_counts.values())})
        for k in COUNTED:
            sums["p_" + k] += c.pytest_counts[k]
            sums["d_" + k] += c.dbtest_counts[k]
        p_cell = fmt_counts(c.pytest_counts, p_ref or (r.of("pytest") or [None])[0])
        d_cell = fmt_counts(c.dbtest_counts, d_ref or (r.of("dbtest") or [None])[0])
        if p_ref and p_ref.rc not in (0, None):
            p_cell += f" ({exit_text(p_ref.rc)})"
        if r.pkg.pytest_args:
            name += " †"
        lines.append(f"| {name} | {short} | {p_cell} | {d_cell} | {n_ids} | {same} | {len(c.only_pytest)} "
                     f"| {len(c.only_dbtest)} "
                     f"| {len(c.mismatches)} | {flaky} | {time_cell(r, 'pytest', pm)} | "
                     f"{time_cell(r, 'dbtest', dm)} | {ratio(dm, pm)} |")
    timed_both = sum(1 for r in results if r.median("pytest") is not None and r.median("dbtest") is not None)
    p_tot = "/".join(str(sums["p_" + k]) for k in COUNTED)
    d_tot = "/".join(str(sums["d_" + k]) for k in COUNTED)
    note = "" if all_timed else f" ({timed_both} suites timed on both sides)"
    lines.append(f"| **total** ({len(results)} packages) | | {p_tot} | {d_tot} | {sums['ids']} | {sums['same']} "
                 f"| {sums['only_p']} | "
                 f"{sums['only_d']} | {sums['mis']} | | {tot_p:.2f}{note} | {tot_d:.2f}{note} | "
                 f"{ratio(tot_d, tot_p)} |")
    return lines


def ids_text(n: int) -> str:
    return f"{n} id" if n == 1 else f"{n} ids"


def short_id(test_id: str, limit: int = 110) -> str:
    return test_id if len(test_id) <= limit else test_id[: limit - 1] + "…"


def examples(ids: list[str], total: int | None = None) -> str:
    shown = ", ".join(f"`{short_id(i)}`" for i in ids)
    more = (total if total is not None else len(ids)) - len(ids)
    return shown + (f", … ({more} more)" if more > 0 else "")


def counted(counter: dict[str, int], limit: int = 8) -> str:
    items = list(counter.items())
    shown = ", ".join(f"`{k}` {n}" for k, n in items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def run_notes(r: Result, p: Run | None, d: Run | None, c: Comparison) -> list[str]:
    """Runs that wrote no report, pytest's own failures, dbtest's warnings and odd exits, flakiness."""
    lines: list[str] = []
    for run in r.runs:
        if run.outcomes is None:
            lines += ["", f"{run.tool} round {run.round} wrote no report ({run.status}); its output ended:",
                      "", "```", run.output_tail, "```"]
            break
    if d and d.rc not in (0, 1, None):
        lines += ["", f"dbtest {exit_text(d.rc)} (round {d.round}); its output ended:", "", "```",
                  tail(d.output_tail, 8), "```"]
    if p and p.outcomes:
        bad = [i for i, o in p.outcomes.items() if o in ("failed", "error")]
        if bad:
            lines += ["", f"pytest itself did not pass {len(bad)} tests: " +
                      "; ".join(f"`{i}` ({first_line(p.messages.get(i), 100)})" for i in bad[:5])]
    warnings = d.warnings if d else []
    if warnings:
        lines += ["", f"dbtest's warnings ({len(warnings)}):", ""] + [f"- {w}" for w in warnings[:10]]
        if len(warnings) > 10:
            lines.append(f"- … ({len(warnings) - 10} more)")
    if c.flaky_dbtest:
        lines += ["", f"dbtest outcomes that changed between rounds ({len(c.flaky_dbtest)}): "
                  + examples(c.flaky_dbtest[:10], len(c.flaky_dbtest))]
    if c.flaky_pytest:
        lines += ["", f"pytest outcomes that changed between rounds ({len(c.flaky_pytest)}): "
                  + examples(c.flaky_pytest[:10], len(c.flaky_pytest))]
    return lines


def details(r: Result, max_groups: int = 15) -> list[str]:
    pkg = r.pkg
    lines = [f"### {pkg.name} {pkg.version}", "", f"Style: {pkg.style}. Test folder `{pkg.tests}`; "
             f"extra deps: {', '.join(pkg.deps) or 'none'}"
             + (f"; pytest also gets `{' '.join(pkg.pytest_args)}`" if pkg.pytest_args else "")
             + (f"; environment {' '.join(f'{k}={v}' for k, v in pkg.env)}" if pkg.env else "")
             + (f"; PYTHONPATH also {', '.join(pkg.pythonpath)}" if pkg.pythonpath else "")
             + (f"; not in the sdist: {', '.join(f'{rel} ({src})' for rel, src in pkg.extra_files)}"
                if pkg.extra_files else "")
             + f"; {r.pytest}" + (" (the package's own pin)" if pkg.pytest else "")
             + (f" (installed: pytest {r.versions.get('pytest')}"
                + "".join(f", {k} {v}" for k, v in r.versions.items() if k.startswith("pytest_") or k in PLUGIN_DISTS)
                + ")" if r.versions else "") + ".", ""]
    if r.setup_error:
        return lines + ["Set-up failed:", "", "```", r.setup_error, "```", ""]
    lines.append("Runs: " + "; ".join(f"{x.tool} {x.seconds:.2f} s {x.status} {len(x.outcomes or {})} ids"
                                      for x in r.runs) + ".")
    p, d, c = reference(r.of("pytest")), reference(r.of("dbtest")), r.comparison
    assert c is not None
    lines += run_notes(r, p, d, c)
    if p and d and c.mismatches:
        lines += ["", f"**Outcome mismatches: {len(c.mismatches)}** (pytest -> dbtest: dbtest's message):", ""]
        groups = group_mismatches(c.mismatches, p, d)
        for g in groups[:max_groups]:
            pm = f" (pytest: `{g['pytest_message']}`)" if g["pytest_message"] else ""
            files = f" In {counted(g['files'], 5)}." if len(g["files"]) > 1 else ""
            lines.append(f"- {g['pytest']} -> {g['dbtest']}: `{g['dbtest_message'] or '(no message)'}`{pm} "
                         f"— {ids_text(g['count'])}.{files} E.g. {examples(g['examples'], g['count'])}")
        rest = groups[max_groups:]
        if rest:
            lines.append(f"- … {len(rest)} more groups ({sum(g['count'] for g in rest)} ids; all in the JSON)")
    for ids, mine, other, names in ((c.only_pytest, p, d, ("pytest", "dbtest")),
                                    (c.only_dbtest, d, p, ("dbtest", "pytest"))):
        if not ids or mine is None:
            continue
        lines += ["", f"**Only in {names[0]}: {len(ids)}** (by cause):", ""]
        groups = group_missing(ids, mine, other, names)
        for g in groups[:max_groups]:
            outs = ", ".join(f"{n} {o}" for o, n in g["outcomes"].items())
            line = (f"- {g['cause']} — {ids_text(g['count'])} ({outs}) in {counted(g['prefixes'])}. "
                    f"E.g. {examples(g['examples'], g['count'])}")
            if g.get("other_examples"):
                line += f"; {names[1]} has e.g. {examples(g['other_examples'])}"
            lines.append(line)
        rest = groups[max_groups:]
        if rest:
            lines.append(f"- … {len(rest)} more groups ({sum(g['count'] for g in rest)} ids; all in the JSON)")
    lines.append("")
    return lines


def causes_section(results: list[Result], per_package: int = 8) -> list[str]:
    """Per package, its top causes of differing ids with counts (what the fixes are measured by)."""
    lines = ["## Top causes by package", "",
             ("Each id that differs (outcome mismatch, or reported by one runner only) counted once, by "
              "cause: `pytest-outcome -> dbtest-outcome: first line of dbtest's message` (pytest's when "
              "dbtest gave none), or `only RUNNER: why`, with quoted names and numbers blurred to `'…'` / "
              "`N` so that one gap counts once; the most frequent concrete message follows."), ""]
    for r in results:
        top = causes(r)
        if not top:
            continue
        total = sum(g["count"] for g in top)
        lines += [f"**{r.pkg.name}** ({ids_text(total)} differ):", ""]
        for g in top[:per_package]:
            variant, n = next(iter(g["variants"].items()))
            many = f" ({len(g['variants'])} variants)" if len(g["variants"]) > 1 else ""
            eg = "" if variant == g["cause"] else f"{many}; e.g. `{short_id(variant, 160)}` ({n})"
            if g["pair"]:  # one test's id in each runner
                eg += "; e.g. " + ", ".join(f"{tool} `{short_id(i)}`" for tool, i in sorted(g["pair"].items(), reverse=True))
            failing = "".join(f"; {n} of them `{short_id(v, 160)}`" for v, n in g["failing"].items())
            lines.append(f"- {g['count']}: `{short_id(g['cause'], 160)}`{eg} in {counted(g['files'], 3)}{failing}")
        if len(top) > per_package:
            rest = top[per_package:]
            lines.append(f"- … {len(rest)} more causes ({sum(g['count'] for g in rest)} ids)")
        lines.append("")
    return lines


def render(results: list[Result], info: dict[str, Any], rounds: int) -> str:
    label = [f"**{info['label']}**", ""] if info.get("label") else []
    lines = [
        "# pytest vs dbtest unit on real test suites",
        "",
        *label,
        (f"Unmodified suites of {len(results)} PyPI packages, run from each sdist root as "
         "`pytest -p no:cacheprovider TESTDIR` and `dbtest unit TESTDIR` in one venv per package, "
         f"alternating, {rounds} round(s). Counts are passed/failed/skipped/xfailed/error of the first "
         "complete round (other outcomes are added after a +; a run stopped at the timeout gets SIGINT "
         "and its partial report is used only when no round completed); *ids* are the test ids either runner "
         "reported, *same outcome* those both reported with one outcome; *only pytest* / *only dbtest* are "
         "test ids one runner reported and the other did not; *outcome mismatches* are ids both "
         "reported with different outcomes; *dbtest flaky* counts ids whose dbtest outcome changed "
         "between rounds. Times are medians of wall clock; the ratio is dbtest / pytest (below 1: "
         "dbtest is faster)."),
        "",
        ("An sdist without any pytest configuration gets an empty `pytest.ini` at its root, so that "
         "neither runner climbs into this repository's `pyproject.toml`. † pytest alone gets an `-o` "
         "override (an `addopts` that loads the absent pytest-cov, or an unset pytest-asyncio option "
         "whose deprecation warning the suite turns into an error): see the package's notes."),
        "",
        *table(results),
        "",
        *causes_section(results),
        "## Mismatches by package",
        "",
    ]
    for r in results:
        lines += details(r)
    lines += ["## Machine and versions", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines.append("")
    return "\n".join(lines)


def to_json(results: list[Result], info: dict[str, Any], rounds: int) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for r in results:
        entry: dict[str, Any] = {"package": r.pkg.name, "version": r.pkg.version, "tests": r.pkg.tests,
                                 "deps": list(r.pkg.deps), "kind": r.pkg.kind, "style": r.pkg.style,
                                 "pytest_args": list(r.pkg.pytest_args), "setup_error": r.setup_error,
                                 "panel": r.pkg.panel, "pytest": r.pytest, "env": dict(r.pkg.env),
                                 "pythonpath": list(r.pkg.pythonpath), "versions": r.versions,
                                 "setup_s": r.setup_seconds,
                                 "median_s": {"pytest": r.median("pytest"), "dbtest": r.median("dbtest")}}
        entry["runs"] = [{"tool": x.tool, "round": x.round, "seconds": x.seconds, "rc": x.rc,
                          "status": x.status, "counts": dict(counts(x.outcomes)),
                          "output_tail": x.output_tail, "warnings": x.warnings} for x in r.runs]
        c = r.comparison
        if c:
            p, d = reference(r.of("pytest")), reference(r.of("dbtest"))
            entry["comparison"] = {
                "pytest_counts": dict(c.pytest_counts), "dbtest_counts": dict(c.dbtest_counts),
                "mismatches": group_mismatches(c.mismatches, p, d) if p and d else [],
                "only_pytest": group_missing(c.only_pytest, p, d, ("pytest", "dbtest")) if p else [],
                "only_dbtest": group_missing(c.only_dbtest, d, p, ("dbtest", "pytest")) if d else [],
                "flaky_dbtest": c.flaky_dbtest, "flaky_pytest": c.flaky_pytest,
                "causes": causes(r),
            }
            entry["outcomes"] = {"pytest": p.outcomes if p else None, "dbtest": d.outcomes if d else None}
        out.append(entry)
    return {"schema": "dbtest.compare-suites/1", "rounds": rounds, "machine": info, "packages": out}


def machine_info(wheel: Path, pytest: str = PYTEST) -> dict[str, Any]:
    """The machine, the versions and the repository's commit, taken when the run starts."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "pytest": pytest + " (unless a package pins its own: see its notes)",
        "pytest_asyncio": ASYNCIO + " (library panel; the application panel pins its own)",
        "dbtest_wheel": wheel.name,
        "dbtest_wheel_sha256": sha256_file(wheel)[:16],
    }
    try:
        git = ["git", "-C", str(REPO)]
        info["dbtest_commit"] = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, check=False,
                                               text=True, timeout=10).stdout.strip() or None
        info["dbtest_worktree_dirty"] = bool(subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, check=False,
            text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info


def dbtest_version(venv: Path | None) -> str | None:
    if not venv or not (venv / "bin" / "dbtest").exists():
        return None
    r = subprocess.run([str(venv / "bin" / "dbtest"), "--version"], capture_output=True, text=True, check=False)
    out = (r.stdout or r.stderr).strip()
    return out.splitlines()[0] if out else None


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def select(only: str | None, panel: str = "library") -> list[Package]:
    """--only names packages of any panel; without it, the packages of --panel."""
    if not only:
        return [p for p in PACKAGES if panel == "all" or p.panel == panel]
    by = {canonical(p.name): p for p in PACKAGES}
    picked = []
    for name in only.split(","):
        key = canonical(name.strip())
        if key not in by:
            raise SystemExit(f"unknown package {name!r}; known: {', '.join(p.name for p in PACKAGES)}")
        picked.append(by[key])
    return picked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help="the dbtest wheel to test (default: build one with maturin)")
    ap.add_argument("--maturin", help="maturin executable for the build (default: on PATH, else /work/dev/bin)")
    ap.add_argument("--work-dir", type=Path, default=HERE / ".suites",
                    help="sdists, sources, venvs, wheel and reports (default benches/.suites)")
    ap.add_argument("--panel", choices=PANELS, default="library",
                    help="which packages: library (the 18 libraries), application (fixture-, async- and "
                         "plugin-heavy suites) or all (default library)")
    ap.add_argument("--only", help="comma-separated package names, of any panel (default: the panel's)")
    ap.add_argument("--pytest", metavar="VERSION", default=PYTEST.split("==", 1)[1],
                    help=f"the pytest version of the venvs (default {PYTEST.split('==', 1)[1]}); a package "
                         "that pins its own keeps it. Each version has its own venvs, kept and reused")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of pytest then dbtest (default 2)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds one command may run; then it is stopped and reported as a hang (default 600)")
    ap.add_argument("--sdist-dir", type=Path, action="append", default=[],
                    help="a folder of sdists to use before downloading (repeatable)")
    ap.add_argument("--extra-dir", type=Path,
                    help="files the sdists lack (see --list), as DIR/NAME-VERSION/PATH")
    ap.add_argument("--label", help="a line put at the top of the Markdown, e.g. 'machine loaded, first look'")
    ap.add_argument("--json", type=Path, help="write the whole result as JSON here")
    ap.add_argument("--write", action="store_true",
                    help="write the Markdown to benches/results/NAME.md")
    ap.add_argument("--name", default="suites", help="the stem --write uses (default suites)")
    ap.add_argument("--list", action="store_true", help="print the package table and exit")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if not re.fullmatch(r"\d+(\.\d+)*\w*", args.pytest):
        ap.error("--pytest takes a version, e.g. 8.4.2")
    pytest_req = f"pytest=={args.pytest}"
    packages = select(args.only, args.panel)
    if args.list:
        for p in packages:
            print(f"{p.name}=={p.version}  [{p.panel}]  {p.tests}  [{p.kind}]  {pytest_pin(p, pytest_req)}  "
                  f"deps: {' '.join(p.deps) or '-'}\n    {p.style}")
            for rel, source in p.extra_files:
                print(f"    needs {rel}: {source}")
        return 0

    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    lock = lock_work_dir(work, log)  # noqa: F841 (kept open: the lock lasts the run)
    (work / "plugin").mkdir(exist_ok=True)
    shutil.copy2(PLUGIN, work / "plugin" / PLUGIN.name)
    try:
        wheel = args.wheel.resolve() if args.wheel else build_wheel(work, find_maturin(args.maturin), log)
    except (RuntimeError, subprocess.SubprocessError) as e:
        log(f"no dbtest wheel: {e}")
        return 2
    if not wheel.is_file() or wheel.suffix != ".whl":
        log(f"--wheel {wheel}: not a .whl file")
        return 2
    log(f"dbtest wheel: {wheel}")

    info = machine_info(wheel, pytest_req)
    if args.label:
        info["label"] = args.label
    info["panel"] = args.only and "--only " + args.only or args.panel
    opts = Options(wheel=wheel, work=work, rounds=args.rounds, timeout=args.timeout, pytest=pytest_req,
                   sdist_dirs=tuple(d.resolve() for d in args.sdist_dir),
                   extra_dir=args.extra_dir.resolve() if args.extra_dir else None)
    t0 = time.perf_counter()
    results: list[Result] = []
    for i, pkg in enumerate(packages, 1):
        log(f"== [{i}/{len(packages)}] {pkg.key} ({pkg.tests}; {pytest_pin(pkg, pytest_req)})")
        results.append(run_package(pkg, opts, log))
    first_venv = next((venv_dir(r.pkg, r.pytest, work) for r in results if not r.setup_error), None)
    info["dbtest_version"] = dbtest_version(first_venv)
    commit_now = machine_info(wheel).get("dbtest_commit")
    if commit_now != info.get("dbtest_commit"):
        info["dbtest_commit_at_end"] = commit_now  # the repository moved on meanwhile
    info["loadavg_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    info["total_run_s"] = round(time.perf_counter() - t0, 1)
    md = render(results, info, args.rounds)
    print(md)
    if args.write:
        out = HERE / "results" / f"{args.name}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        log(f"wrote {out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(results, info, args.rounds), indent=1) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
