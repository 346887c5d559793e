"""Errors the fixture machinery and the built-in fixtures raise, in a module of their own so
that both can import them (the resolver uses the built-ins, the built-ins raise these)."""


class FixtureError(Exception):
    """A fixture could not be found or set up; the test is reported as `error`."""
