from sample_plugin import CALLS

pytest_plugins = ["late_plugin"]

REPORTS: list[tuple[str, str, str, str]] = []


class Point:
    def __init__(self, x):
        self.x = x


def pytest_make_parametrize_id(config, val, argname):
    return f"pt{val.x}" if isinstance(val, Point) else None


def pytest_runtest_setup(item):
    if "ordering" in item.name:
        CALLS.append("conftest")


def pytest_runtest_logreport(report):
    REPORTS.append((report.nodeid.split("::")[-1], report.when, report.outcome, getattr(report, "sample_when", "")))
