"""The closed-loop chart as a PNG (``ems-optimizer simulate --chart OUT.png``), with matplotlib.

The same four panels as the HTML chart (prices, net load, state of charge and grid power of
every strategy) plus the cumulative cost, so a person sees at a glance where the money went.
matplotlib is an optional dependency (the ``png`` extra of the add-on package, installed by
``make setup``; the add-on image does not need it): without it, a clear error says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .simulate import PRICE_COLUMNS, Inputs


class PngUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    """The pyplot module on the Agg backend; PngUnavailable without matplotlib."""
    try:
        import matplotlib as mpl  # noqa: PLC0415 (optional dependency)

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        raise PngUnavailable(
            "a PNG chart needs matplotlib (pip install 'ems-optimizer[png]'), or write the chart "
            "as HTML (--chart OUT.html)"
        ) from None
    return plt


def check_png() -> None:
    """Raise PngUnavailable now if a PNG cannot be drawn."""
    _pyplot()


def write_png(output: dict[str, Any], inputs: Inputs, path: Path) -> None:
    """Draw the chart into ``path`` (PNG); PngUnavailable without matplotlib."""
    plt = _pyplot()
    actual = inputs.actual.loc[inputs.index]
    times = inputs.index.tz_convert(inputs.tz).tz_localize(None)
    strategies = output["strategies"]
    figure, axes = plt.subplots(5, 1, figsize=(13, 13), sharex=True, constrained_layout=True)
    prices, net, soc, grid, cost = axes
    prices.step(times, actual[PRICE_COLUMNS[0]], where="post", label="import")
    prices.step(times, actual[PRICE_COLUMNS[1]], where="post", label="export")
    prices.set_ylabel("€/kWh")
    net.fill_between(times, actual["load_w"] - actual["pv_w"], step="post", alpha=0.4)
    net.set_ylabel("net load W\n(load − PV)")
    hours = inputs.hours
    for name, result in strategies.items():
        steps = result["steps"]
        soc.plot(times, [s["soc_pct"] for s in steps], label=name, linewidth=1)
        grid.step(times, [s["grid_w"] for s in steps], where="post", label=name, linewidth=0.8)
        spent = _step_costs(steps, actual, hours)
        cost.plot(times, np.cumsum(spent), label=f"{name} ({result['cost_eur']:.2f} €)")
    soc.set_ylabel("SOC %")
    grid.set_ylabel("grid W\n(+ import)")
    cost.set_ylabel("cumulative cost €")
    for axis in axes:
        axis.grid(alpha=0.3)
    prices.legend(loc="upper right", fontsize=8)
    soc.legend(loc="upper right", fontsize=8, ncol=3)
    cost.legend(loc="upper left", fontsize=8, ncol=2)
    figure.suptitle(f"Closed loop {output['from']} → {output['to']}")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _step_costs(steps: list[dict[str, Any]], actual: pd.DataFrame, hours: float) -> list[float]:
    """Each step's grid cost at the actual prices (import at the import price, export at export)."""
    energy = np.array([s["grid_w"] for s in steps], dtype=float) * hours / 1000.0
    imports = actual[PRICE_COLUMNS[0]].to_numpy(dtype=float)
    exports = actual[PRICE_COLUMNS[1]].to_numpy(dtype=float)
    return list(np.where(energy > 0, energy * imports, energy * exports))
