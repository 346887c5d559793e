"""Use cases, the sample context and the driver the Rust engine calls to run one sample of
an experiment (or of a probabilistic test).

    @dbtest.use_case("shop.search")
    async def search(ctx: dbtest.Context):
        ...
        ctx.record(tokens=812, cost_usd=0.0004)
        return {"valid_json": True, "latency_ms": 310}

The Rust engine (crates/dbtest-experiment) schedules samples, judges results, keeps the
sample log and computes every statistic; this module only calls user code and reports what
happened, and reads and writes YAML.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import json
import math
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, TypeVar

from ._yaml import YamlError

F = TypeVar("F", bound=Callable[..., Any])

# What became of a sample, as the engine reads it (dbtest_experiment::sample::RawKind).
_RETURNED, _CHECK_FAILED, _RAISED, _CANCELLED = "returned", "check_failed", "raised", "cancelled"
_FATAL = "fatal"


# One sample as the engine reads it (dbtest_experiment::sample::RawSample, by serde).
SampleAnswer = dict[str, Any]


def _answer(kind: str, ctx: Context | None = None, started: float | None = None, *,
            success: bool | None = None, data: str | None = None, message: str | None = None,
            latency_ms: float | None = None, check_failed: str | None = None) -> SampleAnswer:
    """`data` is JSON text (`_dumps`); `ctx` brings the tokens, cost and model calls counted so
    far; the latency is `latency_ms`, or the time since `started`."""
    if latency_ms is None:
        latency_ms = _ms(started) if started is not None else 0.0
    return {
        "kind": kind, "success": success, "data": data, "message": message, "latency_ms": latency_ms,
        "tokens": ctx.tokens if ctx else 0, "cost_usd": ctx.cost_usd if ctx else 0.0,
        "check_failed": check_failed, "calls": ctx.calls if ctx else [],
    }


@dataclass
class UseCase:
    id: str
    func: Callable[..., Any]
    is_async: bool
    file: str
    line: int


_REGISTRY: dict[str, UseCase] = {}


def use_case(id: str) -> Callable[[F], F]:
    """Registers a use case: a sync or async function taking a `dbtest.Context`, returning a
    bool, a dict (judged by the design's `success` expression, or its own `success` key), or
    a `dbtest.Sample`."""
    if not isinstance(id, str) or not id.strip():
        raise ValueError("dbtest.use_case needs an id, e.g. @dbtest.use_case(\"shop.search\")")

    def apply(func: F) -> F:
        code = getattr(inspect.unwrap(func), "__code__", None)
        file = code.co_filename if code else "?"
        line = code.co_firstlineno if code else 0
        known = _REGISTRY.get(id)
        if known is not None and not _same_file(known.file, file):
            raise ValueError(
                f"use case {id!r} is defined twice: {known.file}:{known.line} and {file}:{line}"
            )
        _REGISTRY[id] = UseCase(id, func, inspect.iscoroutinefunction(func), file, line)
        func.__dbtest_use_case__ = id  # type: ignore[attr-defined]
        return func

    return apply


def _same_file(a: str, b: str) -> bool:
    # The same file imported again (under another module name, or after an edit): the
    # newer definition wins.
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@dataclass
class Sample:
    """A use case's result with an explicit verdict: `success` (None: judge `data` with the
    design's expression) and any `data` worth keeping in the sample log."""

    success: bool | None = None
    data: Any = None

    def __getitem__(self, key: Any) -> Any:
        return self.data[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self.data.get(key, default) if isinstance(self.data, Mapping) else default


class ModelError(Exception):
    """A model call gave no reply (retries spent, a 4xx, a cache miss): an infrastructure
    error of the sample, retried by the engine like any other."""


class ModelAuthError(ModelError):
    """The model refused the key (401/403): the run stops at once (exit 4)."""


class PromptRejected(AssertionError):
    """`prompt_shield` refused to send the request: the sample fails."""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Reply:
    """A model's answer: `text`, `json` (the text parsed, if it is JSON), `usage`,
    `cost_usd` (None for an unpriced model), `latency_ms`, `attempts` and `cached`."""

    text: str
    json: Any
    usage: Usage
    cost_usd: float | None
    latency_ms: float
    attempts: int
    cached: bool


class Llm:
    """`ctx.llm`: the design's models, called through dbtest's LLM layer (rate limits,
    retries, cache, middleware); usage and cost count against the budgets by themselves."""

    __slots__ = ("_client", "_ctx")

    def __init__(self, client: Any, ctx: Context) -> None:
        self._client = client
        self._ctx = ctx

    def _args(self, messages: Any, model: str | None, params: dict[str, Any]) -> tuple[Any, ...]:
        if self._client is None:
            raise ModelError("ctx.llm: the design names no `models`; add a `models:` mapping to it")
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        name = model if model is not None else self._ctx.factors.get("model")
        if not isinstance(name, str):
            raise ModelError("ctx.llm.chat: say which model (model=...), or give the design a `model` factor")
        ctx = self._ctx
        call = {"config_id": ctx.config_id, "sample_index": ctx.index, "seed": ctx.seed}
        return (name, {"messages": list(messages), "params": params}, call)

    async def chat(self, messages: Any, model: str | None = None, **params: Any) -> Reply:
        """Sends `messages` (a list of `{"role", "content"}`, or one user message as text) to
        `model` (default: the configuration's `model` factor); `params` override the model's."""
        return self._reply(await self._client_call(messages, model, params))

    async def _client_call(self, messages: Any, model: str | None, params: dict[str, Any]) -> Any:
        return await self._client.chat(*self._args(messages, model, params))

    def chat_sync(self, messages: Any, model: str | None = None, **params: Any) -> Reply:
        """`chat` for a sync use case: blocks its thread (never the event loop)."""
        return self._reply(self._client.chat_sync(*self._args(messages, model, params)))

    def _reply(self, answer: dict[str, Any]) -> Reply:
        ctx = self._ctx
        ctx.calls.append(answer["call"])
        if "error" in answer:
            kind = answer["kind"]
            if kind == "fatal":
                raise ModelAuthError(answer["error"])
            if kind == "aborted":
                raise PromptRejected(answer["error"])
            raise ModelError(answer["error"])
        r = answer["reply"]
        usage = Usage(r["usage"]["input_tokens"], r["usage"]["output_tokens"])
        ctx.record(tokens=usage.input_tokens + usage.output_tokens, cost_usd=r["cost_usd"] or 0.0)
        refused = r.get("notes", {}).get("refused")
        if refused is not None:  # a `python:` middleware's after_response refused the reply
            raise PromptRejected(refused)
        return Reply(r["text"], r["json"], usage, r["cost_usd"], float(r["latency_ms"]),
                     len(r["attempts"]), bool(r["cached"]))


class Context:
    """What a use case knows about the sample it runs: its configuration's `factors`, the
    sample's `index` and `seed` (use `ctx.random` for reproducible randomness), its dataset
    `row`, `llm` to call the design's models, and `record(tokens=, cost_usd=)` to count
    other usage against the design's budgets."""

    __slots__ = ("_random", "attempt", "calls", "config_id", "cost_usd", "factors", "index", "llm", "row",
                 "seed", "tokens", "use_case")

    def __init__(self, factors: dict[str, Any], index: int, seed: int, config_id: str,
                 attempt: int = 0, use_case: str = "") -> None:
        self.factors = factors
        self.index = index
        self.seed = seed
        self.config_id = config_id
        self.attempt = attempt
        self.use_case = use_case
        self.tokens = 0
        self.cost_usd = 0.0
        self._random: random.Random | None = None
        self.row: Any = None
        self.calls: list[dict[str, Any]] = []
        self.llm = Llm(None, self)

    def record(self, tokens: int = 0, cost_usd: float = 0.0) -> None:
        """Adds usage to this sample (callable many times; it sums)."""
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValueError(f"ctx.record: tokens must be a whole number of 0 or more, got {tokens!r}")
        cost = float(cost_usd)
        if not math.isfinite(cost) or cost < 0:
            raise ValueError(f"ctx.record: cost_usd must be 0 or more, got {cost_usd!r}")
        self.tokens += tokens
        self.cost_usd += cost

    @property
    def random(self) -> random.Random:
        """A `random.Random` seeded with this sample's seed."""
        if self._random is None:
            self._random = random.Random(self.seed)
        return self._random

    def __repr__(self) -> str:
        return f"Context(config_id={self.config_id!r}, index={self.index}, seed={self.seed})"


def probabilistic_test(spec: str) -> Callable[[F], F]:
    """Marks a test run by `dbtest unit` as a probabilistic test of the approved spec
    `spec` ("use_case:vN"): the function is called with each sample's result, and an
    assertion failure fails that sample."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError('dbtest.probabilistic_test needs a spec id, e.g. spec="shop.search:v1"')

    def apply(func: F) -> F:
        func.__dbtest_probabilistic__ = spec  # type: ignore[attr-defined]
        return func

    return apply


# --- loading use cases ----------------------------------------------------------------------


class UseCaseError(Exception):
    """The use case cannot be found or loaded: a usage error (exit 4)."""


def load_use_case(use_case_id: str, named: list[dict[str, str]], every: list[dict[str, str]]) -> UseCase:
    """Imports the files that name `use_case_id` (found by the Rust walker), then, if it is
    still unknown, every use-case file; raises UseCaseError listing the known ones."""
    from ._loader import describe_import_error, import_file

    problems: list[str] = []

    def load(files: list[dict[str, str]]) -> None:
        for f in files:
            try:
                import_file(f["path"], f["sys_path_entry"], f["module"])
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                message, _ = describe_import_error(exc)
                problems.append(f"cannot import {f['path']}: {message}")

    if use_case_id not in _REGISTRY:
        load(named)
    if use_case_id not in _REGISTRY:
        load([f for f in every if f not in named])
    found = _REGISTRY.get(use_case_id)
    if found is not None:
        return found
    known = ", ".join(sorted(_REGISTRY)) or "none"
    where = f"{len(every)} use-case file(s) searched" if every else "no usecase_*.py file found"
    text = f"unknown use case {use_case_id!r} ({where}); known use cases: {known}"
    if problems:
        text += "\n" + "\n".join(f"  {p}" for p in problems)
    raise UseCaseError(text)


# --- the driver -----------------------------------------------------------------------------


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, default=_jsonable, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(repr(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Sample):
        return {"success": value.success, "data": value.data}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return repr(value)


def _describe(exc: BaseException) -> str:
    from ._failure import describe_failure

    try:
        message, _ = describe_failure(exc)
    except Exception:  # noqa: BLE001 - a description must never break a sample
        message = f"{type(exc).__name__}: {exc}"
    return message


@dataclass
class ExperimentDriver:
    """Runs one sample of `use_case` when the Rust engine asks: `sample_sync` on a worker
    thread, `sample_async` on the event loop. `check`, for a probabilistic test, is called
    with each result; an exception from it fails the sample."""

    use_case: UseCase
    configs: list[tuple[str, dict[str, Any]]]
    check: Callable[[Any], Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    llm: Any = None  # the run's `_core.LlmClient`, if the design names models
    rows: list[Any] | None = None  # the dataset's rows, if it has one
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _cancelled: bool = False

    @property
    def is_async(self) -> bool:
        return self.use_case.is_async

    def _context(self, config: int, index: int, seed: int, attempt: int) -> Context:
        config_id, factors = self.configs[config]
        ctx = Context(dict(factors), index, seed, config_id, attempt, self.use_case.id)
        if self.rows:
            ctx.row = self.rows[index % len(self.rows)]
        if self.llm is not None:
            ctx.llm = Llm(self.llm, ctx)
        return ctx

    def sample_sync(self, config: int, index: int, seed: int, attempt: int) -> SampleAnswer:
        ctx = self._context(config, index, seed, attempt)
        started = perf_counter()
        try:
            result = self.use_case.func(ctx)
            if inspect.isawaitable(result) and self.loop is not None:
                result = asyncio.run_coroutine_threadsafe(_await(result), self.loop).result()
        except AssertionError as exc:
            return _failed(_CHECK_FAILED, exc, ctx, started)
        except ModelAuthError as exc:
            return _failed(_FATAL, exc, ctx, started)
        except Exception as exc:  # noqa: BLE001 - an infrastructure error, retried by the engine
            return _failed(_RAISED, exc, ctx, started)
        latency = _ms(started)
        check = None
        if self.check is not None:
            check = self._check_sync(result)
        return self._returned(result, ctx, latency, check)

    async def sample_async(self, config: int, index: int, seed: int, attempt: int) -> SampleAnswer:
        if self._cancelled:
            return _answer(_CANCELLED, message="cancelled")
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        ctx = self._context(config, index, seed, attempt)
        started = perf_counter()
        try:
            result = await self.use_case.func(ctx)
        except asyncio.CancelledError:
            if self._cancelled:
                return _answer(_CANCELLED, ctx, started, message="cancelled")
            raise
        except AssertionError as exc:
            return _failed(_CHECK_FAILED, exc, ctx, started)
        except ModelAuthError as exc:
            return _failed(_FATAL, exc, ctx, started)
        except Exception as exc:  # noqa: BLE001 - an infrastructure error, retried by the engine
            return _failed(_RAISED, exc, ctx, started)
        finally:
            if task is not None:
                self._tasks.discard(task)
        latency = _ms(started)
        check = None
        if self.check is not None:
            check = await self._check_async(result)
        return self._returned(result, ctx, latency, check)

    def _check_sync(self, result: Any) -> str | None:
        try:
            answer = self.check(result)  # type: ignore[misc]
            if inspect.isawaitable(answer) and self.loop is not None:
                asyncio.run_coroutine_threadsafe(_await(answer), self.loop).result()
        except Exception as exc:  # noqa: BLE001 - any exception fails the sample
            return _describe(exc)
        return None

    async def _check_async(self, result: Any) -> str | None:
        try:
            answer = self.check(result)  # type: ignore[misc]
            if inspect.isawaitable(answer):
                await answer
        except Exception as exc:  # noqa: BLE001 - any exception fails the sample
            return _describe(exc)
        return None

    @staticmethod
    def _returned(result: Any, ctx: Context, latency: float, check: str | None) -> SampleAnswer:
        if isinstance(result, bool):
            return _answer(_RETURNED, ctx, success=result, latency_ms=latency, check_failed=check)
        if isinstance(result, Sample):
            success = None if result.success is None else bool(result.success)
            return _answer(_RETURNED, ctx, success=success, data=_dumps(result.data), latency_ms=latency,
                           check_failed=check)
        return _answer(_RETURNED, ctx, data=_dumps(result), latency_ms=latency, check_failed=check)

    def cancel_inflight(self) -> None:
        """Ctrl-C: cancel the async samples in flight (they are not recorded, so a resumed
        run runs them again); sync samples cannot be interrupted and finish."""
        self._cancelled = True
        for task in list(self._tasks):
            task.cancel()


def _failed(kind: str, exc: BaseException, ctx: Context, started: float) -> SampleAnswer:
    message = str(exc) if kind == _FATAL else _describe(exc)
    return _answer(kind, ctx, started, message=message)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _ms(started: float) -> float:
    return (perf_counter() - started) * 1000.0


# --- middleware and checks the engine calls ------------------------------------------------


class MiddlewareError(Exception):
    """A `python:` middleware that cannot be loaded: a usage error (exit 4)."""


class LoadedMiddleware:
    """A design's `python: "module:Class"` middleware as the engine calls it
    (crates/dbtest-py/src/middleware.rs): `before_request(request)` gets `{"messages": [...],
    "params": {...}}` and may return a new request, or change the one given and return None;
    raising refuses the call (the sample fails with the reason, nothing is sent).
    `after_response(request, reply)` gets the reply (`text`, `json`, `usage`, `cost_usd`,
    `latency_ms`, `cached`) and may return new text or a reply dict (or set `reply["text"]`:
    only the text is taken, and its JSON read again); raising
    refuses the reply (the sample fails, its cost counted). Each hook may be sync or async."""

    def __init__(self, target: str, obj: Any) -> None:
        self.target = target
        self.obj = obj
        before = getattr(obj, "before_request", None)
        after = getattr(obj, "after_response", None)
        self.before_is_async = None if before is None else inspect.iscoroutinefunction(before)
        self.after_is_async = None if after is None else inspect.iscoroutinefunction(after)

    def _refusal(self, hook: str, exc: BaseException) -> str:
        what = "call" if hook == "before_request" else "reply"
        return f"middleware {self.target}: {hook} refused the {what}: {_describe(exc)}"

    def _request(self, given: dict[str, Any], answer: Any) -> dict[str, Any]:
        if answer is None:
            return {"request": given}
        if not isinstance(answer, Mapping):
            return {"abort": f"middleware {self.target}: before_request returned {type(answer).__name__}; "
                             "return the request dict (or None after changing it in place)"}
        return {"request": {"messages": answer.get("messages", given["messages"]),
                            "params": answer.get("params", given["params"])}}

    def before_request_sync(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self.obj.before_request(request)
        except Exception as exc:  # noqa: BLE001 - the refusal is the sample's failure
            return {"abort": self._refusal("before_request", exc)}
        return self._request(request, answer)

    async def before_request_async(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = await self.obj.before_request(request)
        except Exception as exc:  # noqa: BLE001 - the refusal is the sample's failure
            return {"abort": self._refusal("before_request", exc)}
        return self._request(request, answer)

    @staticmethod
    def _text(reply: dict[str, Any], answer: Any) -> dict[str, Any]:
        # A new text, a new reply dict, or None after changing `reply["text"]` in place.
        if isinstance(answer, Mapping):
            answer = answer.get("text")
        text = answer if isinstance(answer, str) else reply.get("text")
        return {"text": text if isinstance(text, str) else str(text)}

    def after_response_sync(self, request: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self.obj.after_response(request, reply)
        except Exception as exc:  # noqa: BLE001 - the refusal is the sample's failure
            return {"refused": self._refusal("after_response", exc)}
        return self._text(reply, answer)

    async def after_response_async(self, request: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = await self.obj.after_response(request, reply)
        except Exception as exc:  # noqa: BLE001 - the refusal is the sample's failure
            return {"refused": self._refusal("after_response", exc)}
        return self._text(reply, answer)


def load_middleware(target: str, root: str) -> LoadedMiddleware:
    """Imports `module:Class` (the project root first on sys.path) and makes the instance;
    MiddlewareError says what is wrong."""
    import importlib

    from ._loader import add_to_sys_path, describe_import_error

    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise MiddlewareError("write it as \"module:Class\", e.g. mypkg.middleware:Redact")
    add_to_sys_path(root)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - reported as a usage error
        message, _ = describe_import_error(exc)
        raise MiddlewareError(f"cannot import `{module_name}` (from {root}): {message}") from None
    found: Any = module
    for part in attr.split("."):
        if not hasattr(found, part):
            raise MiddlewareError(f"`{module_name}` has no `{attr}`")
        found = getattr(found, part)
    if inspect.isclass(found):
        try:
            found = found()
        except Exception as exc:  # noqa: BLE001 - reported as a usage error
            raise MiddlewareError(f"`{attr}()` failed: {_describe(exc)}") from None
    loaded = LoadedMiddleware(target, found)
    if loaded.before_is_async is None and loaded.after_is_async is None:
        raise MiddlewareError(
            f"`{attr}` has neither before_request(request) nor after_response(request, reply); "
            "define one of them (sync or async)"
        )
    return loaded


class PromptCheck:
    """A probabilistic test's function over a spec of a design without Python, as the engine
    calls it (crates/dbtest-py/src/check.rs): with each sample's result (`text`, `json`,
    `row`, `usage`, `latency_ms`, `cost_usd`, and `judge` with a judge); an exception fails
    the sample with its description."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.is_async = inspect.iscoroutinefunction(func)

    def check_sync(self, result: Any) -> str | None:
        try:
            self.func(result)
        except Exception as exc:  # noqa: BLE001 - any exception fails the sample
            return _describe(exc)
        return None

    async def check_async(self, result: Any) -> str | None:
        try:
            await self.func(result)
        except Exception as exc:  # noqa: BLE001 - any exception fails the sample
            return _describe(exc)
        return None


# --- probabilistic tests --------------------------------------------------------------------


def _configs(pairs: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    return [(config_id, json.loads(factors)) for config_id, factors in pairs]


def prepare_verify(spec_id: str, root: str, concurrency: int | None = None) -> Any:
    """The engine's VerifyRun for `spec_id` (UsageError for a spec that cannot run)."""
    from . import _core

    return _core.VerifyRun(spec_id, root, concurrency)


def driver_for(run: Any, check: Callable[[Any], Any] | None,
               loop: asyncio.AbstractEventLoop | None) -> ExperimentDriver | None:
    """Loads the use case a VerifyRun needs and builds its driver (None if nothing runs)."""
    if run.use_case is None:
        return None
    named, every = run.use_case_files()
    found = load_use_case(run.use_case, named, every)
    return ExperimentDriver(found, _configs(run.configs), check=check, loop=loop, llm=run.llm,
                            rows=run.dataset_rows)


async def run_probabilistic_test(func: Callable[[Any], Any], spec_id: str, root: str) -> dict[str, Any]:
    """Runs the probabilistic test `func` against the approved spec `spec_id` of the project
    at `root`: each sample succeeds only if the use case's own success criterion holds and
    `func(result)` raises nothing. Returns `{"outcome": "passed" | "failed" | "inconclusive"
    | "error", "message": ..., "verdict": {...}}`."""
    from . import _core

    try:
        run = prepare_verify(spec_id, root)
        loop = asyncio.get_running_loop()
        driver = driver_for(run, func, loop)
    except (_core.UsageError, UseCaseError, YamlError) as e:
        return {"outcome": "error", "message": str(e), "verdict": None}
    inputs = run.prompt_inputs()
    if inputs is not None:
        # A spec of a design without Python: dbtest sends the prompts and judges the replies
        # by the spec's criterion, and the test function sees each sample's result.
        from ._prompts import PromptError, render_all

        try:
            prompts = render_all(inputs, run.spec_path)
        except PromptError as e:
            return {"outcome": "error", "message": str(e), "verdict": None}
        verdict = json.loads(await run.run_prompts(prompts, check=PromptCheck(func)))
    else:
        verdict = json.loads(await run.run(driver))
    outcome = {"PASS": "passed", "FAIL": "failed"}.get(verdict["verdict"], "inconclusive")
    message = verdict["message"]
    if run.warnings:
        message += "\n" + "\n".join(f"warning: {w}" for w in run.warnings)
    return {"outcome": outcome, "message": message, "verdict": verdict}
