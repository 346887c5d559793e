"""YAML for dbtest experiment: designs, baselines and specs read and written with pyyaml, as
plain JSON-able data (the engine works on JSON)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any


class YamlError(Exception):
    """A YAML file cannot be read: a usage error (exit 4)."""


def _plain(value: Any) -> Any:
    """YAML's timestamps and dates as ISO text, so the document is JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    return value


def read_yaml(path: str) -> Any:
    """The YAML document at `path` as plain JSON-able data; YamlError says where it broke."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise YamlError(f"{path}: no such file") from None
    except OSError as e:
        raise YamlError(f"{path}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise YamlError(f"{path}: not valid YAML{where}: {problem}") from None
    return _plain(data)


def read_yaml_json(path: str) -> str:
    return json.dumps(read_yaml(path))


def yaml_text(data: Any) -> str:
    """`data` as YAML, keys in their order."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def yaml_of_json(json_text: str) -> str:
    """A JSON document as YAML (how the engine writes baselines)."""
    return yaml_text(json.loads(json_text))


def write_yaml(path: str, data: Any) -> None:
    """Writes `data` as YAML, atomically (the engine's one atomic write: synced, renamed)."""
    from . import _core

    _core.write_atomic(path, yaml_text(data))
