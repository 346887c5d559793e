"""Registers the sample's hypothesis profile, named by `--hypothesis-profile` in addopts."""

from hypothesis import settings

settings.register_profile("sample", max_examples=25, deadline=None)
