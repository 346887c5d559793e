"""`dbtest bench --plot`: the distribution of each group's rounds as box plots (matplotlib)."""

from __future__ import annotations

from typing import Any


def plot_report(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[dict[str, Any]]] = {}
    for b in report["benchmarks"]:
        if b.get("rounds"):
            groups.setdefault(b["group"], []).append(b)
    if not groups:
        return
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 1.2 + 0.6 * max(len(v) for v in groups.values()) * len(groups)),
                             squeeze=False)
    for ax, (group, members) in zip(axes[:, 0], groups.items()):
        scale, unit = _unit(min(min(m["rounds"]) for m in members))
        data = [[x * scale for x in m["rounds"]] for m in members]
        labels = [m["name"] + (f"[{m['params']}]" if m.get("params") else "") for m in members]
        ax.boxplot(data, vert=False, tick_labels=labels, showfliers=True)
        ax.set_title(group)
        ax.set_xlabel(f"time per iteration ({unit})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _unit(seconds: float) -> tuple[float, str]:
    if seconds < 1e-6:
        return 1e9, "ns"
    if seconds < 1e-3:
        return 1e6, "µs"
    if seconds < 1:
        return 1e3, "ms"
    return 1.0, "s"
