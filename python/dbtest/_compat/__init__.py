"""How dbtest runs a suite written for pytest or unittest (DESIGN sections 4b and 4c), one
module per part of pytest it stands in for:

- `config`: the config, the nodes hooks and `request.node` see, metafunc, marks and their
  evaluation;
- `plugins`: pytest plugins, found and ordered as pytest does, and the hooks of plugins and
  conftests through pluggy; which plugins the engine serves instead;
- `collect`: what a test module holds (functions, classes, unittest cases, parametrization);
- `fixtures`: fixture definitions, lookup by name through conftests and plugins, scopes;
- `builtins`: pytest's built-in fixtures (`tmp_path`, `monkeypatch`, `capsys`, `caplog`, ...);
- `unittest_case`: running a `unittest.TestCase` test as unittest would;
- `benchmark`: pytest-benchmark's `benchmark` fixture on dbtest bench's engine.

Nothing here imports pytest at module level: a suite that never imports it does not pay for it.
"""
