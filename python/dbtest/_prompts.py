"""A design's prompt templates (DESIGN §8), rendered with Jinja2's sandbox before any call:
every configuration's messages for every dataset row, so that an undefined name or a
template error stops the run with the template's line before a request is sent."""

from __future__ import annotations

import traceback
from typing import Any


class PromptError(Exception):
    """A template that cannot be rendered: a usage error (exit 4)."""


def render_all(inputs: dict[str, Any], design_file: str) -> list[list[list[dict[str, str]]]]:
    """`prompts[config][row]`: the messages each configuration sends for each row, from
    `{system, user, rows, configs}` (the engine's `prompt_inputs`). Templates see `row` and
    `factors`."""
    try:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise PromptError(
            "a design with `prompt` needs Jinja2 to render it: pip install jinja2"
        ) from None
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                        keep_trailing_newline=True)
    templates = []
    for role in ("system", "user"):
        source = inputs.get(role)
        if source is None:
            continue
        name = f"prompt.{role}"
        try:
            templates.append((role, name, env.from_string(source)))
        except jinja2.TemplateSyntaxError as e:
            raise PromptError(f"{design_file}: `{name}` line {e.lineno}: {e.message}") from None
    rendered = []
    for factors in inputs["configs"]:
        per_row = []
        for index, row in enumerate(inputs["rows"]):
            messages = []
            for role, name, template in templates:
                try:
                    messages.append({"role": role, "content": template.render(row=row, factors=factors)})
                except jinja2.TemplateError as e:
                    line = _template_line(e)
                    where = f" line {line}" if line else ""
                    raise PromptError(
                        f"{design_file}: `{name}`{where}: {e} (dataset row {index + 1}, factors {factors}); "
                        f"templates see `row` (the dataset's row) and `factors`"
                    ) from None
            per_row.append(messages)
        rendered.append(per_row)
    return rendered


def _template_line(error: BaseException) -> int | None:
    # Jinja2 rewrites tracebacks so that a template's frames carry its own line numbers.
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == "<template>":
            return frame.lineno
    return None
