from hypothesis import settings

# Named by `--hypothesis-profile` in addopts: pytest imports this conftest before hypothesis's
# plugin reads its options.
settings.register_profile("sample", max_examples=25, deadline=None)
