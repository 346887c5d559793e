"""Failure detail for exceptions raised by tests, without pytest and without
assertion rewriting (an assert that pytest's rewriter compiled keeps pytest's explanation,
followed by the ``where:`` line below).

``describe(exc, hide_dirs=...)`` returns ``(message, traceback_text)``:

* ``message`` -- a short summary: ``ValueError: bad input``,
  ``AssertionError: <msg>`` or, for a bare ``assert`` statement, a pytest-like
  explanation such as ``assert 2 == 3`` (plus a diff hint for containers).
* ``traceback_text`` -- the traceback in Python's own format, with frames from
  files under ``hide_dirs`` removed, chained exceptions included, followed
  (for a failing ``assert``) by a block::

      >       assert total == expected + 1
      E       assert 2 == 4
      E        where: total = 2, expected = 3

The explanation is computed after the fact by re-reading the source of the
failing statement (``linecache`` + ``ast``) and looking up the values of the
simple sub-expressions (names, attribute chains, constant subscripts,
``len()`` of those, arithmetic on builtin numbers) in the failing frame.
No user source is ever ``eval``-ed and no user function is called except
through ``repr()``/``len()``/attribute and item access of plain names.

Only the standard library is used; this module does not import anything else
from ``dbtest``.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import collections
import difflib
import functools
import linecache
import os
import textwrap
import traceback
import types
from pathlib import Path
from typing import TypeVar

__all__ = ["describe"]

_REPR_LIMIT = 240
_MAX_HINT_LINES = 40
_MAX_DIFF_INPUT_LINES = 500
_INDENT_MARK = ">       "
_ERROR_MARK = "E       "

_MISSING = object()

_BORING_TYPES: tuple[type, ...] = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    functools.partial,
    type,
)

_NUMBER_TYPES = (int, float, complex, bool)
_SEQ_CONCAT_TYPES = (str, bytes, list, tuple)


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


# Frames of dbtest, asyncio and unittest say nothing about the user's failure.
_INTERNAL_DIRS = (
    str(Path(__file__).resolve().parent),
    str(Path(asyncio.__file__).resolve().parent),
    str(Path(os.__file__).resolve().parent / "unittest"),
)


# pytest's `--tb` style and `-l` (`--showlocals`) for the run's tests (see _debugging.configure).
tb_style = "auto"
show_locals = False


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(message, traceback text) of an exception a test or a use case raised, without
    dbtest's, asyncio's and unittest's frames."""
    message, text = describe(exc, hide_dirs=_INTERNAL_DIRS)
    if tb_style in ("auto", "long") and not show_locals:
        return message, text
    try:
        return message, _styled(exc, message, text)
    except Exception:  # the default rendering is never lost to a style
        return message, text


def _styled(exc: BaseException, message: str, text: str) -> str:
    """The traceback in pytest's `--tb` style, with each frame's locals under `-l`."""
    hidden = _HiddenDirs(_INTERNAL_DIRS)
    _, visible = _visible_tb_entries(exc, hidden)
    if tb_style == "no":
        return ""
    if tb_style == "line":
        crash = visible[-1] if visible else None
        where = f"{crash.tb_frame.f_code.co_filename}:{crash.tb_lineno}" if crash is not None else "?"
        first = message.splitlines()[0] if message else _exception_line(exc)
        return f"{where}: {first}\n"
    if tb_style == "native":
        native = traceback.TracebackException(type(exc), exc, exc.__traceback__)
        _trim_stacks(native, hidden)
        text = "".join(native.format())
    elif tb_style == "short":
        lines = []
        for entry in visible:
            code = entry.tb_frame.f_code
            lines.append(f"{code.co_filename}:{entry.tb_lineno}: in {code.co_name}")
            source = linecache.getline(code.co_filename, entry.tb_lineno).strip()
            if source:
                lines.append(f"    {source}")
        lines.extend(f"E   {line}" for line in (message or _exception_line(exc)).splitlines())
        text = "\n".join(lines) + "\n"
    if show_locals:
        text = text.rstrip("\n") + "\n" + _locals_text(visible)
    return text


def _locals_text(entries: list[types.TracebackType]) -> str:
    """pytest's `-l`: each frame's local variables, `name = repr`, in name order."""
    out = []
    for entry in entries:
        frame = entry.tb_frame
        names = sorted(n for n in frame.f_locals if not n.startswith("@") and n != "__tracebackhide__")
        if not names:
            continue
        out.append(f"\nlocals of {frame.f_code.co_name} ({frame.f_code.co_filename}:{entry.tb_lineno}):")
        out.extend(f"{name:<10} = {_safe_repr(frame.f_locals[name])}" for name in names)
    return "\n".join(out) + "\n" if out else ""


def describe(exc: BaseException, *, hide_dirs: tuple[str, ...]) -> tuple[str, str]:
    """Return (message, traceback_text) for an exception raised by a test.

    hide_dirs: absolute directory paths whose frames are dbtest internals
    (the dbtest package dir); frames from files under them are dropped from
    the traceback (if that would drop all frames, keep them all).

    Never raises: any internal failure falls back to
    ``traceback.format_exception`` text.
    """
    try:
        return _describe(exc, tuple(hide_dirs or ()))
    except Exception:
        pass
    try:
        message = _exception_line(exc)
    except Exception:
        message = _fallback_type_name(exc)
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        text = message + "\n"
    return message, text


# --------------------------------------------------------------------------
# top level
# --------------------------------------------------------------------------


def _describe(exc: BaseException, hide_dirs: tuple[str, ...]) -> tuple[str, str]:
    hidden = _HiddenDirs(hide_dirs)
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    _trim_stacks(te, hidden)
    text = "".join(te.format())

    message = _exception_line(exc)

    rewritten = _rewritten_assert(exc, hidden) if isinstance(exc, AssertionError) else None
    if rewritten is not None:
        message, block = rewritten
        if not text.endswith("\n"):
            text += "\n"
        text += "\n" + block
    elif isinstance(exc, AssertionError):
        detail = None
        try:
            detail = _assert_detail(exc, hidden)
        except Exception:
            detail = None
        if detail is not None:
            source_lines, explanation, where = detail
            if _has_message(exc):
                message = message + "\n" + explanation
            else:
                message = explanation
            block = _format_block(source_lines, explanation, where, exc)
            if not text.endswith("\n"):
                text += "\n"
            text += "\n" + block
    return message, text


def _rewritten_assert(exc: BaseException, hidden: _HiddenDirs) -> tuple[str, str] | None:
    """(message, block) of an assert that pytest's rewriter compiled (its module has pytest's
    helpers among its globals): its message already is pytest's explanation."""
    entries, visible = _visible_tb_entries(exc, hidden)
    if not entries or visible[-1] is not entries[-1]:
        return None
    frame = entries[-1].tb_frame
    if "@pytest_ar" not in frame.f_globals:
        return None
    explanation = _safe_str(exc)
    message = explanation if explanation.startswith("assert ") else f"AssertionError: {explanation}"
    code = frame.f_code
    found = _find_assert(code, entries[-1].tb_lineno, entries[-1].tb_lasti, frame.f_globals)
    if found is not None:
        source_lines = _statement_lines(found[0], found[1])
    else:
        source_lines = [linecache.getline(code.co_filename, entries[-1].tb_lineno, frame.f_globals).strip()]
    out = [(_INDENT_MARK + line).rstrip() for line in source_lines]
    out.extend((_ERROR_MARK + line).rstrip() for line in message.split("\n"))
    # dbtest's values of the names in the statement, which pytest's explanation leaves out.
    try:
        detail = _assert_detail(exc, hidden)
    except Exception:
        detail = None
    if detail is not None and detail[2]:
        out.extend((_ERROR_MARK + line).rstrip() for line in _format_where(detail[2]))
    return message, "\n".join(out) + "\n"


def _has_message(exc: BaseException) -> bool:
    return bool(getattr(exc, "args", ()))


def _fallback_type_name(exc: BaseException) -> str:
    try:
        return type(exc).__name__
    except Exception:
        return "Exception"


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "Exception")
    module = getattr(cls, "__module__", None)
    if isinstance(module, str) and module not in ("builtins", "__main__", ""):
        return f"{module}.{name}"
    return str(name)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        return f"<exception str() failed: {type(e).__name__}>"


def _exception_line(exc: BaseException) -> str:
    name = _type_name(exc)
    text = _safe_str(exc)
    if text:
        return f"{name}: {text}"
    return name


# --------------------------------------------------------------------------
# hidden directories / traceback trimming
# --------------------------------------------------------------------------


class _HiddenDirs:
    def __init__(self, dirs: tuple[str, ...]) -> None:
        prefixes: list[str] = []
        for d in dirs:
            if not d:
                continue
            for p in {_norm(d), _norm(os.path.realpath(d))}:
                p = p.rstrip(os.sep) or os.sep
                if p not in prefixes:
                    prefixes.append(p)
        self.prefixes = tuple(prefixes)
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.prefixes)

    def contains(self, filename: str | None) -> bool:
        if not self.prefixes or not filename:
            return False
        hit = self._cache.get(filename)
        if hit is None:
            hit = self._compute(filename)
            self._cache[filename] = hit
        return hit

    def _compute(self, filename: str) -> bool:
        if filename.startswith("<") and filename.endswith(">"):
            return False
        candidates = {_norm(filename)}
        try:
            candidates.add(_norm(os.path.realpath(filename)))
        except Exception:
            pass
        for c in candidates:
            for p in self.prefixes:
                if c == p or c.startswith(p if p.endswith(os.sep) else p + os.sep):
                    return True
        return False


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _trim_stacks(te: traceback.TracebackException, hidden: _HiddenDirs) -> None:
    """Drop hidden frames from every stack in the exception chain/group."""
    if not hidden:
        return
    seen: set[int] = set()
    todo: list[traceback.TracebackException | None] = [te]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        stack = cur.stack
        kept = [fs for fs in stack if not hidden.contains(fs.filename)]
        if kept and len(kept) != len(stack):
            cur.stack = traceback.StackSummary.from_list(kept)
        todo.append(cur.__cause__)
        todo.append(cur.__context__)
        todo.extend(getattr(cur, "exceptions", None) or ())


def _visible_tb_entries(exc: BaseException, hidden: _HiddenDirs):
    entries = []
    tb = exc.__traceback__
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    visible = [t for t in entries if not hidden.contains(t.tb_frame.f_code.co_filename)]
    return entries, (visible or entries)


# --------------------------------------------------------------------------
# assert statement analysis
# --------------------------------------------------------------------------


def _assert_detail(exc: BaseException, hidden: _HiddenDirs):
    entries, visible = _visible_tb_entries(exc, hidden)
    if not entries:
        return None
    tb = visible[-1]
    # The AssertionError must have been raised in that frame itself (not in
    # something hidden it called), otherwise the assert there did not fail.
    if tb is not entries[-1]:
        return None
    frame = tb.tb_frame
    code = frame.f_code
    found = _find_assert(code, tb.tb_lineno, tb.tb_lasti, frame.f_globals)
    if found is None:
        return None
    node, file_lines = found
    source_lines = _statement_lines(node, file_lines)
    ev = _Evaluator(frame)
    explanation = ev.explain(node.test)
    where = ev.where(node.test)
    return source_lines, explanation, where


@functools.lru_cache(maxsize=64)
def _parse_cached(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _raise_position(code: types.CodeType, lasti: int):
    try:
        positions = code.co_positions()
    except AttributeError:  # pragma: no cover - Python < 3.11
        return None
    index = lasti // 2
    for i, pos in enumerate(positions):
        if i == index:
            return pos
    return None


def _find_assert(code: types.CodeType, lineno: int, lasti: int, module_globals):
    filename = code.co_filename
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        return None
    tree = _parse_cached("".join(lines))
    offset = 0
    if tree is None:
        # The file as a whole does not parse (edited since import?): try the
        # function's own source.
        start = getattr(code, "co_firstlineno", 1)
        chunk = _block_from(lines, start)
        if not chunk:
            return None
        try:
            # not cached: _shift_lines below mutates the tree
            tree = ast.parse(textwrap.dedent("".join(chunk)))
        except (SyntaxError, ValueError):
            return None
        offset = start - 1

    pos = _raise_position(code, lasti)
    candidates = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Assert):
            first = n.lineno + offset
            last = (n.end_lineno or n.lineno) + offset
            if first <= lineno <= last:
                candidates.append(n)
    if not candidates:
        return None
    best = candidates[0]
    if pos is not None and len(candidates) > 1 and pos[0] is not None:
        for n in candidates:
            t = n.test
            if t.lineno + offset == pos[0] and t.col_offset == pos[2]:
                best = n
                break
    if offset:
        best = _shift_lines(best, offset)
    return best, lines


_Node = TypeVar("_Node", bound=ast.AST)


def _shift_lines(node: _Node, offset: int) -> _Node:
    for n in ast.walk(node):
        for attr in ("lineno", "end_lineno"):
            line = getattr(n, attr, None)
            if line is not None:
                setattr(n, attr, line + offset)
    return node


def _block_from(lines: list[str], start: int) -> list[str]:
    """Lines of the indented block (decorators/def) starting at ``start``."""
    if start < 1 or start > len(lines):
        return []
    first = lines[start - 1]
    indent = len(first) - len(first.lstrip())
    out = [first]
    for line in lines[start:]:
        stripped = line.strip()
        if stripped and (len(line) - len(line.lstrip())) <= indent:
            break
        out.append(line)
    return out


def _statement_lines(node: ast.Assert, lines: list[str]) -> list[str]:
    first = node.lineno
    last = node.end_lineno or node.lineno
    chunk = [lines[i - 1].rstrip("\r\n") for i in range(first, last + 1) if 0 < i <= len(lines)]
    if not chunk:
        return []
    chunk = textwrap.dedent("\n".join(chunk)).split("\n")
    return [c.rstrip() for c in chunk]


def _format_block(source_lines, explanation: str, where, exc: BaseException) -> str:
    out: list[str] = []
    for line in source_lines:
        out.append((_INDENT_MARK + line).rstrip())
    e_lines: list[str] = []
    if _has_message(exc):
        e_lines.extend(_exception_line(exc).split("\n"))
    e_lines.extend(explanation.split("\n"))
    if where:
        e_lines.extend(_format_where(where))
    for line in e_lines:
        out.append((_ERROR_MARK + line).rstrip())
    return "\n".join(out) + "\n"


def _format_where(where: list[tuple[str, str]]) -> list[str]:
    items = [f"{name} = {value}" for name, value in where]
    one = " where: " + ", ".join(items)
    if len(one) <= 120 and "\n" not in one:
        return [one]
    out = []
    for i, item in enumerate(items):
        prefix = " where: " if i == 0 else "        "
        parts = item.split("\n")
        out.append(prefix + parts[0])
        out.extend("        " + p for p in parts[1:])
    return out


# --------------------------------------------------------------------------
# repr helpers
# --------------------------------------------------------------------------


def _truncate(text: str, limit: int = _REPR_LIMIT) -> str:
    if len(text) <= limit:
        return text
    head = (limit - 3) * 2 // 3
    tail = limit - 3 - head
    return text[:head] + "..." + text[-tail:]


def _safe_repr(value, limit: int = _REPR_LIMIT) -> str:
    try:
        text = _big_container_repr(value)
        if text is None:
            text = repr(value)
        if not isinstance(text, str):
            text = str(text)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        try:
            cls = type(value).__qualname__
        except Exception:
            cls = "object"
        return f"<{cls} object at {id(value):#x} (repr() failed: {type(e).__name__})>"
    return _truncate(text, limit)


_BIG = 64


def _big_container_repr(value):
    """Cheap repr for very large builtin containers (only the head matters)."""
    t = type(value)
    if t not in (list, tuple, set, frozenset, dict):
        return None
    if len(value) <= _BIG:
        return None
    if t is dict:
        items = []
        for i, (k, v) in enumerate(value.items()):
            if i >= _BIG:
                break
            items.append(f"{_safe_repr(k)}: {_safe_repr(v)}")
        return "{" + ", ".join(items) + ", ...}"
    items = []
    for i, v in enumerate(value):
        if i >= _BIG:
            break
        items.append(_safe_repr(v))
    body = ", ".join(items) + ", ..."
    if t is list:
        return "[" + body + "]"
    if t is tuple:
        return "(" + body + ")"
    if t is set:
        return "{" + body + "}"
    return "frozenset({" + body + "})"


def _is_boring(value) -> bool:
    try:
        return isinstance(value, _BORING_TYPES)
    except Exception:
        return True


# --------------------------------------------------------------------------
# evaluation of side-effect-free sub-expressions
# --------------------------------------------------------------------------


class _Unavailable(Exception):
    pass


_CMP_OPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


class _Evaluator:
    def __init__(self, frame: types.FrameType) -> None:
        try:
            self.locals = frame.f_locals
        except Exception:
            self.locals = {}
        self.globals = frame.f_globals
        b = frame.f_builtins
        if isinstance(b, types.ModuleType):
            b = vars(b)
        self.builtins = b if isinstance(b, dict) else vars(builtins)
        self._memo: dict[int, object] = {}

    # -- lookup -----------------------------------------------------------

    def lookup(self, name: str):
        """Return (value, origin) with origin in 'local'/'global'/'builtin'."""
        if name in self.locals:
            return self.locals[name], "local"
        if name in self.globals:
            return self.globals[name], "global"
        if name in self.builtins:
            return self.builtins[name], "builtin"
        raise _Unavailable(name)

    # -- evaluation -------------------------------------------------------

    def value(self, node: ast.AST):
        """Evaluate a side-effect-free node or raise _Unavailable."""
        key = id(node)
        if key in self._memo:
            v = self._memo[key]
            if v is _MISSING:
                raise _Unavailable()
            return v
        try:
            v = self._value(node)
        except _Unavailable:
            self._memo[key] = _MISSING
            raise
        except Exception as e:
            self._memo[key] = _MISSING
            raise _Unavailable() from e
        self._memo[key] = v
        return v

    def _value(self, node: ast.AST):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id)[0]
        if isinstance(node, ast.Attribute):
            if not _is_chain(node.value):
                raise _Unavailable()
            base = self.value(node.value)
            return getattr(base, node.attr)
        if isinstance(node, ast.Subscript):
            if not _is_chain(node.value) or not _is_simple_key(node.slice):
                raise _Unavailable()
            base = self.value(node.value)
            key = self._key(node.slice)
            if isinstance(base, collections.defaultdict) and key not in base:
                raise _Unavailable()  # would insert the key
            return base[key]
        if isinstance(node, ast.Call):
            if (
                isinstance(node.func, ast.Name)
                and node.func.id == "len"
                and len(node.args) == 1
                and not node.keywords
                and not isinstance(node.args[0], ast.Starred)
            ):
                fn, _ = self.lookup("len")
                if fn is not builtins.len:
                    raise _Unavailable()
                return len(self.value(node.args[0]))
            raise _Unavailable()
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
                v = self.value(node.operand)
                if type(v) not in _NUMBER_TYPES:
                    raise _Unavailable()
                if isinstance(node.op, ast.USub):
                    return -v
                if isinstance(node.op, ast.UAdd):
                    return +v
                if type(v) in (int, bool):
                    return ~v
            raise _Unavailable()
        if isinstance(node, ast.BinOp):
            return _safe_binop(node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                raise _Unavailable()
            items = [self.value(e) for e in node.elts]
            if isinstance(node, ast.Tuple):
                return tuple(items)
            if isinstance(node, ast.List):
                return items
            return set(items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise _Unavailable()
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values) if k is not None}
        raise _Unavailable()

    def _key(self, node: ast.AST):
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self.value(p) for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        if isinstance(node, ast.Tuple):
            return tuple(self._key(e) for e in node.elts)
        return self.value(node)

    # -- explanation ------------------------------------------------------

    def explain(self, test: ast.expr) -> str:
        text = "assert " + self.render(test)
        hints = self.hints(test)
        if hints:
            if len(hints) > _MAX_HINT_LINES:
                hints = hints[:_MAX_HINT_LINES] + ["..."]
            text += "\n" + "\n".join("  " + h for h in hints)
        return text

    def render(self, node: ast.expr) -> str:
        try:
            new = _Renderer(self).visit(node)
            return ast.unparse(new)
        except Exception:
            try:
                return ast.unparse(node)
            except Exception:
                return "<expression>"

    def rendered_value(self, node: ast.AST):
        """Replacement text for ``node`` or None to keep/recurse."""
        if isinstance(node, ast.Constant):
            return None
        if not _is_value_node(node):
            return None
        try:
            v = self.value(node)
        except _Unavailable:
            return None
        if _is_boring(v):
            return _KEEP
        return _safe_repr(v)

    # -- hints ------------------------------------------------------------

    def hints(self, test: ast.expr) -> list[str]:
        if not isinstance(test, ast.Compare) or len(test.ops) != 1:
            return []
        op = test.ops[0]
        try:
            left = self.value(test.left)
            right = self.value(test.comparators[0])
        except _Unavailable:
            return []
        try:
            if isinstance(op, ast.Eq):
                return _eq_hints(left, right)
            if isinstance(op, ast.NotIn):
                return _notin_hints(left, right)
        except Exception:
            return []
        return []

    # -- where ------------------------------------------------------------

    def where(self, test: ast.expr) -> list[tuple[str, str]]:
        chains: list[ast.expr] = []
        _collect_chains(test, chains)
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for chain in chains:
            entry = self._where_entry(chain)
            if entry is None:
                continue
            name, text = entry
            if name in seen:
                continue
            seen.add(name)
            out.append((name, text))
        return out

    def _where_entry(self, chain: ast.expr):
        node: ast.expr | None = chain
        while node is not None:
            try:
                if isinstance(node, ast.Name):
                    v, origin = self.lookup(node.id)
                    if origin == "builtin":
                        return None
                else:
                    v = self.value(node)
            except _Unavailable:
                v = _MISSING
            except Exception:
                v = _MISSING
            if v is not _MISSING and not _is_boring(v):
                try:
                    name = ast.unparse(node)
                except Exception:
                    return None
                return name, _safe_repr(v)
            node = node.value if isinstance(node, (ast.Attribute, ast.Subscript)) else None
        return None


_KEEP = object()


class _Renderer:
    """Rebuilds an expression with evaluable sub-expressions replaced by the
    repr of their value (as a Name node whose id is the repr text, which
    ``ast.unparse`` prints verbatim)."""

    def __init__(self, ev: _Evaluator) -> None:
        self.ev = ev

    def visit(self, node):
        if isinstance(node, list):
            return [self.visit(n) for n in node]
        if not isinstance(node, ast.AST):
            return node
        if isinstance(node, ast.expr):
            rep = self.ev.rendered_value(node)
            if rep is _KEEP:
                return node
            if isinstance(rep, str):
                return ast.Name(id=rep, ctx=ast.Load())
        if isinstance(node, ast.Call):
            # never render the callee itself, only its arguments
            return ast.Call(
                func=node.func,
                args=self.visit(node.args),
                keywords=self.visit(node.keywords),
            )
        if isinstance(node, ast.Lambda):
            return node
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            if not node.generators:
                return node
            gens = list(node.generators)
            first = gens[0]
            gens[0] = ast.comprehension(
                target=first.target,
                iter=self.visit(first.iter),
                ifs=first.ifs,
                is_async=first.is_async,
            )
            fields = {f: getattr(node, f) for f in node._fields}
            fields["generators"] = gens
            return type(node)(**fields)
        if isinstance(node, ast.Attribute):
            # render the object whose attribute is taken, e.g. f(x).attr
            return ast.Attribute(value=self.visit(node.value), attr=node.attr, ctx=node.ctx)
        fields = {}
        for f in node._fields:
            fields[f] = self.visit(getattr(node, f, None))
        new = type(node)(**fields)
        return new


def _is_chain(node: ast.AST) -> bool:
    """Name, or attribute/constant-subscript access on a chain."""
    while True:
        if isinstance(node, ast.Name):
            return True
        if isinstance(node, ast.Attribute):
            node = node.value
            continue
        if isinstance(node, ast.Subscript) and _is_simple_key(node.slice):
            node = node.value
            continue
        return False


def _is_const(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant)
    return False


def _is_simple_key(node: ast.AST) -> bool:
    if _is_const(node) or isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Slice):
        return all(p is None or _is_const(p) or isinstance(p, ast.Name) for p in (node.lower, node.upper, node.step))
    if isinstance(node, ast.Tuple):
        return all(_is_const(e) for e in node.elts)
    return False


def _is_value_node(node: ast.AST) -> bool:
    if _is_chain(node):
        return True
    if isinstance(node, (ast.Call, ast.BinOp, ast.UnaryOp, ast.Tuple, ast.List, ast.Set, ast.Dict)):
        return not (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))
    return False


def _collect_chains(node: ast.AST, out: list[ast.expr]) -> None:
    """Maximal name/attribute/subscript chains in source order."""
    if node is None:
        return
    if isinstance(node, ast.expr) and _is_chain(node):
        out.append(node)
        # names used as subscript keys are interesting too: row[i] -> i
        n = node
        while isinstance(n, (ast.Attribute, ast.Subscript)):
            if isinstance(n, ast.Subscript):
                for sub in ast.walk(n.slice):
                    if isinstance(sub, ast.Name):
                        out.append(sub)
            n = n.value
        return
    if isinstance(node, ast.Lambda):
        return
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        if node.generators:
            _collect_chains(node.generators[0].iter, out)
        return
    for child in ast.iter_child_nodes(node):
        _collect_chains(child, out)


def _safe_binop(op: ast.operator, a, b):
    ta, tb = type(a), type(b)
    if ta in _NUMBER_TYPES and tb in _NUMBER_TYPES:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.FloorDiv):
            return a // b
        if isinstance(op, ast.Mod):
            return a % b
        if isinstance(op, ast.Pow):
            if tb in (int, bool) and abs(b) > 256:
                raise _Unavailable()
            if ta in (int, bool) and tb in (int, bool) and a.bit_length() * max(b, 1) > 100_000:
                raise _Unavailable()
            return a**b
        if ta in (int, bool) and tb in (int, bool):
            if isinstance(op, ast.BitAnd):
                return a & b
            if isinstance(op, ast.BitOr):
                return a | b
            if isinstance(op, ast.BitXor):
                return a ^ b
            if isinstance(op, ast.LShift):
                if b > 4096:
                    raise _Unavailable()
                return a << b
            if isinstance(op, ast.RShift):
                return a >> b
        raise _Unavailable()
    if ta in _SEQ_CONCAT_TYPES and ta is tb and isinstance(op, ast.Add):
        if len(a) + len(b) > 100_000:
            raise _Unavailable()
        return a + b
    if isinstance(op, ast.Mult):
        if ta in _SEQ_CONCAT_TYPES and tb is int:
            seq, n = a, b
        elif tb in _SEQ_CONCAT_TYPES and ta is int:
            seq, n = b, a
        else:
            raise _Unavailable()
        if len(seq) * max(n, 0) > 100_000:
            raise _Unavailable()
        return seq * n
    if ta in (set, frozenset) and tb in (set, frozenset):
        if isinstance(op, ast.BitOr):
            return a | b
        if isinstance(op, ast.BitAnd):
            return a & b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.BitXor):
            return a ^ b
    raise _Unavailable()


# --------------------------------------------------------------------------
# diff hints
# --------------------------------------------------------------------------


def _eq_hints(left, right) -> list[str]:
    lt, rt = type(left), type(right)
    if isinstance(left, str) and isinstance(right, str):
        return _str_hints(left, right)
    if isinstance(left, bytes) and isinstance(right, bytes):
        return _seq_hints(left, right)
    seqs = (list, tuple)
    if isinstance(left, seqs) and isinstance(right, seqs):
        out = []
        if lt is not rt:
            out.append(f"Types differ: {lt.__name__} != {rt.__name__}")
        return out + _seq_hints(left, right)
    if isinstance(left, dict) and isinstance(right, dict):
        return _dict_hints(left, right)
    sets = (set, frozenset)
    if isinstance(left, sets) and isinstance(right, sets):
        return _set_hints(left, right)
    if lt is not rt and _safe_repr(left) == _safe_repr(right):
        return [f"Types differ: {lt.__qualname__} != {rt.__qualname__}"]
    return []


def _str_hints(left: str, right: str) -> list[str]:
    if "\n" in left or "\n" in right:
        a = left.splitlines(keepends=True)[:_MAX_DIFF_INPUT_LINES]
        b = right.splitlines(keepends=True)[:_MAX_DIFF_INPUT_LINES]
        # make a missing trailing newline visible
        a = [_show_line(x) for x in a]
        b = [_show_line(x) for x in b]
        out = ["Diff (- left, + right):"]
        for line in difflib.ndiff(a, b):
            out.append(line.rstrip("\n"))
        return out
    i = _first_diff(left, right)
    if i is None:
        return []
    out = []
    if i < len(left) and i < len(right):
        out.append(f"At index {i} diff: {_safe_repr(left[i])} != {_safe_repr(right[i])}")
        if max(len(left), len(right)) > 40:
            start = max(0, i - 15)
            out.append(f"  left[{start}:{i + 15}]:  {_safe_repr(left[start:i + 15])}")
            out.append(f"  right[{start}:{i + 15}]: {_safe_repr(right[start:i + 15])}")
    elif len(left) > len(right):
        out.append(f"Left has {len(left) - len(right)} more characters: {_safe_repr(left[i:])}")
    else:
        out.append(f"Right has {len(right) - len(left)} more characters: {_safe_repr(right[i:])}")
    return out


def _show_line(line: str) -> str:
    if line.endswith("\n"):
        return line
    return line + "\n" if line else line


def _first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    if len(a) != len(b):
        return min(len(a), len(b))
    return None


def _seq_hints(left, right) -> list[str]:
    out = []
    for i, (x, y) in enumerate(zip(left, right)):
        if not _same(x, y):
            out.append(f"At index {i} diff: {_safe_repr(x)} != {_safe_repr(y)}")
            break
    n, m = len(left), len(right)
    if n > m:
        out.append(_more("Left", n - m, _safe_repr(left[m])))
    elif m > n:
        out.append(_more("Right", m - n, _safe_repr(right[n])))
    return out


def _more(side: str, count: int, first: str) -> str:
    if count == 1:
        return f"{side} contains one more item: {first}"
    return f"{side} contains {count} more items, first extra item: {first}"


def _same(x, y) -> bool:
    try:
        return bool(x is y or x == y)
    except Exception:
        return False


def _dict_hints(left: dict, right: dict) -> list[str]:
    out = []
    differing = []
    for k, value in left.items():
        if k in right and not _same(value, right[k]):
            differing.append(k)
    if differing:
        lpart = ", ".join(f"{_safe_repr(k)}: {_safe_repr(left[k])}" for k in differing[:10])
        rpart = ", ".join(f"{_safe_repr(k)}: {_safe_repr(right[k])}" for k in differing[:10])
        more = f" (and {len(differing) - 10} more)" if len(differing) > 10 else ""
        out.append(f"Differing items: {{{lpart}}} != {{{rpart}}}{more}")
    extra_l = [k for k in left if k not in right]
    extra_r = [k for k in right if k not in left]
    for side, keys, d in (("Left", extra_l, left), ("Right", extra_r, right)):
        if not keys:
            continue
        part = _truncate(", ".join(f"{_safe_repr(k)}: {_safe_repr(d[k])}" for k in keys[:10]))
        if len(keys) > 10:
            part += ", ..."
        noun = "one more item" if len(keys) == 1 else f"{len(keys)} more items"
        out.append(f"{side} contains {noun}: {{{part}}}")
    return out


def _set_hints(left, right) -> list[str]:
    out = []
    extra_l = [x for x in left if x not in right]
    extra_r = [x for x in right if x not in left]
    for side, items in (("left", extra_l), ("right", extra_r)):
        if items:
            part = _truncate(", ".join(_safe_repr(x) for x in items[:20]))
            if len(items) > 20:
                part += ", ..."
            out.append(f"Extra items in the {side} set: {part}")
    return out


def _notin_hints(item, container) -> list[str]:
    if isinstance(container, str) and isinstance(item, str):
        i = container.find(item)
        if i >= 0:
            return [f"{_safe_repr(item)} found at index {i} of {_safe_repr(container)}"]
        return []
    if isinstance(container, (list, tuple)):
        for i, x in enumerate(container):
            if _same(x, item):
                return [f"{_safe_repr(item)} found at index {i}"]
    if isinstance(container, dict) and item in container:
        return [f"key {_safe_repr(item)} maps to {_safe_repr(container[item])}"]
    return []
