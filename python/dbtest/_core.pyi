"""Type stubs for dbtest._core, the Rust extension (crates/dbtest-py)."""

from collections.abc import Awaitable, Callable
from typing import Any, Self, final

from typing_extensions import disjoint_base

__all__ = [
    "BenchRun",
    "DbtestError",
    "ExperimentRun",
    "LlmClient",
    "MockLlmServer",
    "Sampling",
    "UnitRun",
    "UsageError",
    "VerifyRun",
    "WorkerRun",
    "__version__",
    "approve_baseline",
    "coverage_verdict",
    "hold_terminal",
    "measure_callable",
    "merge_reports",
    "merge_shards",
    "release_terminal",
    "render_artifacts",
    "verify_bundle",
    "write_atomic",
]

__version__: str

class DbtestError(Exception):
    """Base class of dbtest's errors."""

class UsageError(DbtestError):
    """Bad flags, configuration or paths: the CLI exits with code 4."""

@final
class UnitRun:
    """One `dbtest unit` invocation: settings and discovery happen in the constructor."""

    def __new__(cls, flags: dict[str, Any], cwd: str) -> Self:
        """`flags`: the command line's options by their setting names."""
    def interrupt(self) -> None: ...
    @property
    def root(self) -> str: ...
    @property
    def python_settings(self) -> dict[str, Any]:
        """The fields of `dbtest._settings.PythonSettings`."""
    @property
    def warnings(self) -> list[str]:
        """To print before the run, one line each (ignored addopts options, ...)."""
    @property
    def interrupted(self) -> bool: ...
    @property
    def abandoned(self) -> bool: ...
    @property
    def file_count(self) -> int: ...
    @property
    def uses_workers(self) -> bool: ...
    @property
    def coverage(self) -> dict[str, Any] | None:
        """What `--cov` measures (dbtest_core::coverage::CoverageSettings), or None."""
    def run_blocking(self, coverage: Any | None = None) -> int:
        """`coverage`: what ends the measurement, by its `finish_sync()`."""
    def run(self, driver: Any, coverage: Any | None = None) -> Awaitable[int]:
        """`coverage`: what ends the measurement, by its `finish_async()`, on this loop."""

@final
class BenchRun:
    """One `dbtest bench` invocation: settings, discovery and the saved run to compare with
    are read in the constructor."""

    def __new__(cls, flags: dict[str, Any], cwd: str) -> Self:
        """`flags`: the command line's options by their setting names."""
    @property
    def gc_disabled(self) -> bool: ...
    def run(self, driver: Any) -> Awaitable[tuple[int, str]]: ...

def coverage_verdict(summary: dict[str, Any], fail_under: float | None = None) -> tuple[str, bool]:
    """The coverage section to print, and whether the run fails for it."""

def merge_reports(
    inputs: list[str], json: str | None = None, junit_xml: str | None = None, markdown: str | None = None
) -> int:
    """`dbtest report merge`: prints the merged summary, writes the reports, returns the exit code."""

def measure_callable(
    round: Callable[[int], int], name: str, clock: dict[str, float], budget: dict[str, Any]
) -> dict[str, Any]:
    """Times `round(iterations) -> ns` with dbtest bench's policy: `clock` holds
    `resolution_s` and `overhead_s`, `budget` pytest-benchmark's `warmup_rounds`,
    `min_rounds`, `max_time_s`, `min_round_time_s`; returns the BenchResult."""

@disjoint_base
class Sampling:
    """What ExperimentRun and VerifyRun share: the job, what its samples need, how it runs."""

    @property
    def use_case(self) -> str | None:
        """The use case to load; None when no sample will run or the design has no Python."""
    @property
    def configs(self) -> list[tuple[str, str]]:
        """`[(config_id, factors_json)]`."""
    @property
    def llm(self) -> LlmClient | None:
        """The LLM layer for `ctx.llm`; None when the design names no models."""
    @property
    def dataset_rows(self) -> list[Any] | None: ...
    def prompt_inputs(self) -> dict[str, Any] | None:
        """A design without Python: `{system, user, rows, configs}` to render, and
        `python_middleware` (whether a `python:` middleware needs the event loop); else None."""
    def use_case_files(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]: ...
    def interrupt(self) -> None: ...
    @property
    def interrupted(self) -> bool: ...
    def run(self, driver: Any, progress: bool = False) -> Awaitable[int | str]:
        """Samples by calling `driver` (None when no sample will run)."""
    def run_prompts(
        self, prompts: list[list[list[dict[str, str]]]], progress: bool = False, check: Any = None
    ) -> Awaitable[int | str]:
        """Samples a design without Python: `prompts[config][row]` are the rendered messages;
        `check` (a `PromptCheck`) sees each sample's result."""
    def run_prompts_blocking(self, prompts: list[list[list[dict[str, str]]]]) -> int:
        """The same for a run without `python:` middleware, outside any event loop (Ctrl-C
        is the engine's): blocks until the run ends; returns its exit code."""

@final
class ExperimentRun(Sampling):
    """One `dbtest experiment run`: the design is validated and the run folder chosen in the
    constructor (UsageError otherwise)."""

    def __new__(
        cls,
        design_json: str, design_file: str, cwd: str, out: str | None = None, resume: str | None = None,
        cache: str = "off", shard: str | None = None,
    ) -> Self: ...
    @property
    def experiment(self) -> str: ...
    @property
    def run_dir(self) -> str: ...
    @property
    def resumed_samples(self) -> int: ...
    def run(self, driver: Any, progress: bool = False) -> Awaitable[int]:
        """Resolves to the exit code."""
    def run_prompts(
        self, prompts: list[list[list[dict[str, str]]]], progress: bool = False, check: Any = None
    ) -> Awaitable[int]: ...

@final
class VerifyRun(Sampling):
    """One verification of an approved spec (`dbtest experiment verify`, or a probabilistic
    test). An invalid, unapproved or infeasible spec raises UsageError; a missing or expired
    one runs no sample and ends INCONCLUSIVE."""

    def __new__(cls, spec_id: str, cwd: str, concurrency: int | None = None) -> Self: ...
    @property
    def spec_id(self) -> str: ...
    @property
    def spec_path(self) -> str: ...
    @property
    def warnings(self) -> list[str]: ...
    def run(self, driver: Any, progress: bool = False) -> Awaitable[str]:
        """Resolves to the verdict as JSON text."""
    def run_prompts(
        self, prompts: list[list[list[dict[str, str]]]], progress: bool = False, check: Any = None
    ) -> Awaitable[str]: ...

def approve_baseline(
    baseline_json: str, baseline_file: str, cwd: str, options: dict[str, Any]
) -> tuple[str, str, list[str]]:
    """`dbtest experiment approve`: (spec path, spec as JSON, warnings); UsageError if refused."""

@final
class WorkerRun:
    """A worker process of `dbtest unit --workers`: serves the parent's commands."""

    def __new__(cls, setup_json: str, protocol_fd: int) -> Self: ...
    @property
    def root(self) -> str: ...
    @property
    def python_settings(self) -> dict[str, Any]:
        """The fields of `dbtest._settings.PythonSettings`."""
    def output(self, printed: str) -> None: ...
    def serve(self, driver: Any) -> Awaitable[int]: ...

@final
class LlmClient:
    """The run's LLM layer (dbtest-llm): `{reply, call}` or `{error, kind, call}`."""

    def chat(self, model: str, request: dict[str, Any], call: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        """`request`: `{messages, params}`; `call`: `{config_id, sample_index, seed}`."""
    def chat_sync(self, model: str, request: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]: ...

@final
class MockLlmServer:
    """dbtest's local OpenAI-compatible server (127.0.0.1): scripted replies, faults, latency."""

    def __new__(cls, script_json: str = "{}", port: int = 0) -> Self: ...
    @property
    def url(self) -> str:
        """The OpenAI base URL (`http://127.0.0.1:PORT/v1`)."""
    @property
    def azure_endpoint(self) -> str: ...
    def stats(self) -> dict[str, Any]:
        """Requests served: `total`, counts by status."""
    def close(self) -> None: ...

def merge_shards(run_dirs: list[str], cwd: str, out: str | None = None) -> str:
    """`dbtest experiment merge RUN_DIR... [--out DIR]`: joins the shares of a `--shard` run into
    one run folder (baselines, summary, artifacts); returns what to print. UsageError when the
    folders are not every share of one run."""

def render_artifacts(run_dir: str, cwd: str) -> str:
    """`dbtest experiment report RUN_DIR`: renders the run's artifacts again; returns what to print."""

def verify_bundle(dir: str, key_env: str, cwd: str) -> tuple[int, str]:
    """`dbtest experiment verify-bundle`: (exit code, what to print)."""

def write_atomic(path: str, text: str) -> None:
    """Writes `text` to `path` so that readers see the old file or the whole new one."""

def hold_terminal() -> None:
    """A debugger takes the terminal: the live display is erased and stays off."""

def release_terminal() -> None:
    """The debugger is done: the live display is drawn again."""
