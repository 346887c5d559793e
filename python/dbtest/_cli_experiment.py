"""`dbtest experiment run | approve | verify` (DESIGN §6). Parsing and YAML here; the
scheduling, statistics and files in the Rust engine."""

from __future__ import annotations

import json
import os
from typing import Any

import click

EXIT_USAGE = 4


def _usage(message: str) -> int:
    click.echo(f"dbtest: error: {message}", err=True)
    return EXIT_USAGE


def _warn(message: str) -> None:
    click.echo(f"dbtest: warning: {message}", err=True)


def _finish(code: int) -> Any:
    from ._process import exit_now

    return exit_now(code)


@click.group(name="experiment")
def experiment() -> None:
    """Measure a non-deterministic use case over factors, approve a baseline as a spec, and
    verify the spec with a probabilistic verdict.

    \b
    dbtest experiment run DESIGN.yaml            -> a baseline per configuration + SUMMARY.md
    dbtest experiment approve BASELINE --by NAME -> specs/<use_case>.v<N>.yaml
    dbtest experiment verify SPEC_ID             -> PASS (0) / FAIL (1) / INCONCLUSIVE (6)
    dbtest experiment run DESIGN.yaml --shard K/N -> one share of the samples (CI matrix)
    dbtest experiment merge RUN_DIR... [--out DIR] -> the shares joined into one run
    dbtest experiment report RUN_DIR             -> the design's artifacts, rendered again
    dbtest experiment verify-bundle DIR --key-env NAME -> 0 intact / 1 naming what changed
    """


@experiment.command(name="run")
@click.argument("design")
@click.option("--out", metavar="DIR",
              help="Folder of the run [default: experiments/<experiment>/<UTC time>/].")
@click.option("--resume", metavar="RUN_DIR",
              help="Continue an interrupted run: only the samples it lacks are run.")
@click.option("--cache", type=click.Choice(["off", "record", "replay"]), default="off", show_default=True,
              help="Model replies in .dbtest/llm-cache.sqlite: record them, or replay them without a request.")
@click.option("--shard", metavar="K/N",
              help="Run share K of N: the sample indices i with i mod N = K-1, of every configuration "
                   "(needs the design's seed); join the shares with `dbtest experiment merge`.")
def run_command(design: str, out: str | None, resume: str | None, cache: str, shard: str | None) -> None:
    """Run every configuration of the experiment DESIGN (a YAML file).

    Writes samples.jsonl (as samples finish), baselines/<config>.yaml, SUMMARY.md and
    summary.json. Exit codes: 0 done (also when a budget stopped it), 2 interrupted,
    4 usage error.
    """
    raise SystemExit(_run(design, out, resume, cache, shard))


def _run(design_path: str, out: str | None, resume: str | None, cache: str = "off", shard: str | None = None) -> int:
    from . import _core
    from ._yaml import YamlError, read_yaml

    if out is not None and resume is not None:
        return _usage("--out and --resume cannot be used together: a resumed run stays in its folder")
    try:
        doc = read_yaml(design_path)
    except YamlError as e:
        return _usage(str(e))
    if doc is None:
        return _usage(f"{design_path}: the design is empty; it needs at least experiment, use_case and samples")
    try:
        run = _core.ExperimentRun(json.dumps(doc), design_path, os.getcwd(), out, resume, cache, shard)
    except _core.UsageError as e:
        return _usage(str(e))
    inputs = run.prompt_inputs()
    if inputs is not None or run.use_case is None:
        # A design without Python: dbtest renders and sends its prompts.
        return _run_prompts(run, inputs or {}, design_path)
    from ._experiment import ExperimentDriver, UseCaseError, _configs, load_use_case

    try:
        named, every = run.use_case_files()
        found = load_use_case(run.use_case, named, every)
    except _core.UsageError as e:
        return _usage(str(e))
    except UseCaseError as e:
        return _usage(f"{design_path}: `use_case`: {e}")
    driver = ExperimentDriver(found, _configs(run.configs), llm=run.llm, rows=run.dataset_rows)

    import asyncio
    import signal

    async def main() -> int:
        loop = asyncio.get_running_loop()
        driver.loop = loop

        def on_interrupt() -> None:
            if run.interrupted:  # a second Ctrl-C: stop now; the sample log is complete
                os._exit(2)
            click.echo("\ninterrupted: finishing the samples in flight (Ctrl-C again to quit now)", err=True)
            run.interrupt()
            driver.cancel_inflight()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            return await run.run(driver)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    import sys

    sys.stdout.flush()
    return _finish(asyncio.run(main()))


def _run_prompts(run: Any, inputs: dict[str, Any], design_path: str) -> int:
    """A design without Python: its prompts rendered for every configuration and row, then
    sent by the engine (without Python's event loop, unless a `python:` middleware needs it)."""
    from ._prompts import PromptError, render_all

    try:
        prompts = render_all(inputs, design_path)
    except PromptError as e:
        return _usage(str(e))
    if not inputs.get("python_middleware"):
        from ._process import engine_owns_ctrl_c

        engine_owns_ctrl_c()
        return _finish(run.run_prompts_blocking(prompts))
    import asyncio
    import signal

    async def main() -> int:
        loop = asyncio.get_running_loop()

        def on_interrupt() -> None:
            if run.interrupted:
                os._exit(2)
            click.echo("\ninterrupted: finishing the calls in flight (Ctrl-C again to quit now)", err=True)
            run.interrupt()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            return int(await run.run_prompts(prompts))
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    return _finish(asyncio.run(main()))


@experiment.command(name="approve")
@click.argument("baseline")
@click.option("--by", metavar="NAME", help="Who approves the spec (required).")
@click.option("--samples", type=click.IntRange(min=1), metavar="N",
              help="Samples a verification runs [default: the baseline's samples_run].")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), metavar="C",
              help="Confidence of the verdict [default: 0.95].")
@click.option("--min-pass-rate", type=click.FloatRange(0, 1), metavar="X",
              help="A contractual threshold instead of the empirical one (needs --origin).")
@click.option("--origin", type=click.Choice(["sla", "slo", "policy"]), help="Where --min-pass-rate comes from.")
@click.option("--expires-days", type=click.IntRange(min=1), metavar="D", help="Days until the spec expires [default: 90].")
@click.option("--notes", metavar="TEXT", help="Free text kept in the spec.")
def approve_command(baseline: str, **options: Any) -> None:
    """Approve BASELINE (a baselines/<config>.yaml of a run) as specs/<use_case>.v<N>.yaml.

    Without --min-pass-rate the threshold is empirical: the spec fails only when a
    verification's pass rate is significantly below the baseline's.
    Exit codes: 0 written, 4 refused (no --by, an infeasible threshold, a bad baseline).
    """
    raise SystemExit(_approve(baseline, options))


def _approve(baseline: str, options: dict[str, Any]) -> int:
    from . import _core
    from ._yaml import YamlError, read_yaml, write_yaml

    if not (options.get("by") or "").strip():
        return _usage("a spec needs the name of the person approving it: pass --by NAME")
    try:
        doc = read_yaml(baseline)
        path, spec_json, warnings = _core.approve_baseline(
            json.dumps(doc), baseline, os.getcwd(), {k: v for k, v in options.items() if v is not None}
        )
    except (YamlError, _core.UsageError) as e:
        return _usage(str(e))
    for w in warnings:
        _warn(w)
    spec = json.loads(spec_json)
    write_yaml(path, spec)
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    origin = spec["threshold_origin"]
    click.echo(
        f"approved {spec['spec_id']} -> {shown}\n"
        f"  threshold: min_pass_rate {spec['min_pass_rate']} ({origin}"
        + (f", from a baseline of {spec['baseline']['successes']}/{spec['baseline']['samples']}" if origin == "empirical" else "")
        + f") at {spec['samples']} samples, confidence {spec['confidence']}\n"
        f"  approved by {spec['approved_by']} at {spec['approved_at']}; expires {spec['expires_at']}\n"
        f"  verify with: dbtest experiment verify {spec['spec_id']}"
    )
    return 0


@experiment.command(name="verify")
@click.argument("spec_id")
@click.option("--json", "json_path", metavar="PATH", help="Write the verdict as JSON.")
@click.option("--concurrency", type=click.IntRange(min=1), metavar="N",
              help="Samples at once [default: what the spec's baseline ran with].")
def verify_command(spec_id: str, json_path: str | None, concurrency: int | None) -> None:
    """Run the approved spec SPEC_ID (use_case:vN; without :vN the latest version) and give
    the probabilistic verdict.

    Exit codes: 0 PASS, 1 FAIL, 6 INCONCLUSIVE (budget spent, too many infrastructure errors,
    a missing or expired spec), 4 usage error (an unapproved or invalid spec).
    """
    raise SystemExit(_verify(spec_id, json_path, concurrency))


def _verify(spec_id: str, json_path: str | None, concurrency: int | None = None) -> int:
    from . import _core
    from ._experiment import UseCaseError, driver_for, prepare_verify
    from ._yaml import YamlError

    try:
        run = prepare_verify(spec_id, os.getcwd(), concurrency)
    except (_core.UsageError, YamlError) as e:
        return _usage(str(e))
    for w in run.warnings:
        _warn(w)
    from ._prompts import PromptError, render_all

    try:
        inputs = run.prompt_inputs()
        prompts = None if inputs is None else render_all(inputs, run.spec_path)
    except PromptError as e:
        return _usage(str(e))

    import asyncio
    import signal
    import sys

    async def main() -> str:
        loop = asyncio.get_running_loop()
        driver = driver_for(run, None, loop)

        def on_interrupt() -> None:
            if run.interrupted:
                os._exit(2)
            run.interrupt()
            if driver is not None:
                driver.cancel_inflight()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            if prompts is not None:
                return str(await run.run_prompts(prompts, progress=True))
            return await run.run(driver, progress=True)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    sys.stdout.flush()
    try:
        verdict = json.loads(asyncio.run(main()))
    except UseCaseError as e:
        return _usage(f"{run.spec_path}: `use_case`: {e}")
    click.echo(verdict["message"])
    if json_path is not None:
        text = json.dumps(verdict, indent=2) + "\n"
        try:
            with open(json_path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            click.echo(f"dbtest: cannot write {json_path}: {e}", err=True)
            return _finish(3)
    code = {"PASS": 0, "FAIL": 1}.get(verdict["verdict"], 6)
    return _finish(code)


@experiment.command(name="merge")
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1, required=True)
@click.option("--out", metavar="DIR",
              help="Folder of the merged run [default: experiments/<experiment>/<UTC time>/].")
def merge_command(run_dirs: tuple[str, ...], out: str | None) -> None:
    """Join the shares of `dbtest experiment run DESIGN --shard K/N` (one RUN_DIR per share,
    in any order) into one run folder: the baselines, SUMMARY.md, summary.json and artifacts a
    single run of the same samples would write.

    Exit codes: 0 merged, 3 a file could not be written, 4 refused (shares of different
    designs or seeds, a share missing or given twice, an interrupted share, a signing key not set).
    """
    from . import _core

    try:
        text = _core.merge_shards(list(run_dirs), os.getcwd(), out)
    except _core.UsageError as e:
        raise SystemExit(_usage(str(e)))
    except _core.DbtestError as e:
        click.echo(f"dbtest: {e}", err=True)
        raise SystemExit(3)
    click.echo(text, nl=False)
    raise SystemExit(0)


@experiment.command(name="report")
@click.argument("run_dir")
def report_command(run_dir: str) -> None:
    """Render the artifacts of the run in RUN_DIR again (its design's `artifacts:`), from the
    samples it holds; an interrupted run included.

    Exit codes: 0 written, 3 a file could not be written, 4 usage error (not a run folder, no
    artifacts declared, a signing key not set).
    """
    from . import _core

    try:
        text = _core.render_artifacts(run_dir, os.getcwd())
    except _core.UsageError as e:
        raise SystemExit(_usage(str(e)))
    except _core.DbtestError as e:
        click.echo(f"dbtest: {e}", err=True)
        raise SystemExit(3)
    click.echo(text, nl=False)
    raise SystemExit(0)


@experiment.command(name="verify-bundle")
@click.argument("bundle_dir", metavar="DIR")
@click.option("--key-env", metavar="NAME", required=True,
              help="The environment variable holding the signing key.")
def verify_bundle_command(bundle_dir: str, key_env: str) -> None:
    """Check a signed bundle: DIR holds manifest.json and manifest.json.sig (or DIR is the
    manifest). The key is read from the environment variable NAME, never from the command line.

    Exit codes: 0 the signature and every file's digest hold, 1 otherwise (each changed or
    missing file named), 4 the key is not set.
    """
    from . import _core

    code, text = _core.verify_bundle(bundle_dir, key_env, os.getcwd())
    if code == EXIT_USAGE:
        raise SystemExit(_usage(text))
    click.echo(text, err=code != 0)
    raise SystemExit(code)
