"""`ems-optimizer simulate`: the closed loop over a hand-made two-day history at 60-min steps."""

from __future__ import annotations

from datetime import date
import json
import math
from pathlib import Path
import sys

import numpy as np
import pandas as pd
import pytest

from ems_optimizer.cli import main
from ems_optimizer.simulate import Inputs, SimulationError, Step, load_inputs, run, simulate

HOURS = pd.date_range("2024-03-01", periods=48, freq="h", tz="UTC")
BATTERY = {
    "capacity_wh": 5000,
    "soc_initial_pct": 50,
    "soc_min_pct": 10,
    "soc_max_pct": 90,
    "charge_max_w": 2500,
    "discharge_max_w": 2000,
    "charge_efficiency": 0.95,
    "discharge_efficiency": 0.9,
}
SITE = {"battery": BATTERY, "grid": {"import_limit_w": 9000, "export_limit_w": 9000}}
DAY1, DAY2 = date(2024, 3, 1), date(2024, 3, 2)


def _history() -> pd.DataFrame:
    """Base load with an evening peak, a PV bell from 8 to 16 h (a bit less sun on day 2)."""
    hour = HOURS.hour.to_numpy()
    load = 400.0 + 1800.0 * ((hour >= 18) & (hour < 22)) + 300.0 * ((hour >= 7) & (hour < 9))
    sun = np.clip(np.sin((hour - 8) / 8 * math.pi), 0, None) * ((hour >= 8) & (hour < 16))
    pv = 3000.0 * sun * np.where(HOURS.day == 1, 1.0, 0.8)
    return pd.DataFrame({"load_w": load, "pv_w": pv}, index=HOURS)


def _prices() -> pd.DataFrame:
    """Off-peak 0.10 €/kWh 22–06 h, peak 0.30 €/kWh, export 0.05 €/kWh (hourly rows)."""
    off = (HOURS.hour >= 22) | (HOURS.hour < 6)
    return pd.DataFrame(
        {
            "import_price_eur_per_kwh": np.where(off, 0.10, 0.30),
            "export_price_eur_per_kwh": 0.05,
        },
        index=HOURS,
    )


def _inputs(history: pd.DataFrame | None = None, first: date = DAY1) -> Inputs:
    return load_inputs(_history() if history is None else history, _prices(), SITE, first, DAY2)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out.insert(0, "timestamp", [t.isoformat() for t in frame.index])
    out.to_csv(path, index=False)
    return path


def _files(tmp_path: Path, history: pd.DataFrame | None = None) -> list[str]:
    h = _write(_history() if history is None else history, tmp_path / "h.csv")
    p = _write(_prices(), tmp_path / "p.csv")
    site = tmp_path / "site.json"
    site.write_text(json.dumps(SITE), encoding="utf-8")
    return ["--history", str(h), "--prices", str(p), "--site", str(site)]


@pytest.mark.parametrize("strategy", ["ems", "ems_unstable", "persistence"])
def test_decisions_never_read_the_future(strategy: str) -> None:
    """Perturbing the history after step k changes no decision up to step k."""
    k = 6  # day 2, 06:00
    base = simulate(_inputs(first=DAY2), strategy)
    perturbed_history = _history()
    later = perturbed_history.index > HOURS[24 + k]
    perturbed_history.loc[later, "load_w"] *= 3.0
    perturbed_history.loc[later, "pv_w"] *= 0.2
    perturbed = simulate(_inputs(perturbed_history, DAY2), strategy)
    assert [s.battery_w for s in base[: k + 1]] == [s.battery_w for s in perturbed[: k + 1]]
    assert [s.soc_pct for s in base[: k + 1]] == [s.soc_pct for s in perturbed[: k + 1]]
    assert [s.load_w for s in base[k + 1 :]] != [s.load_w for s in perturbed[k + 1 :]]
    assert [s.battery_w for s in base] != [s.battery_w for s in perturbed]


def _stored_pct(steps: list[Step]) -> float:
    """Σ η·charge − discharge/η over the steps, in % of the capacity."""
    total = sum(
        s.battery_w * BATTERY["charge_efficiency"]
        if s.battery_w > 0
        else s.battery_w / BATTERY["discharge_efficiency"]
        for s in steps
    )
    return total / BATTERY["capacity_wh"] * 100.0


@pytest.fixture(scope="module")
def output() -> dict:
    """Every strategy over both days."""
    return run(_inputs())


@pytest.fixture(scope="module")
def raw_steps() -> dict[str, list[Step]]:
    """Unrounded steps of every strategy over both days."""
    inputs = _inputs()
    return {name: simulate(inputs, name) for name in ("ems", "perfect_foresight", "persistence")}


def test_energy_is_conserved_and_limits_hold(raw_steps: dict[str, list[Step]]) -> None:
    """SOC change = Σ η·charge − discharge/η; the battery stays within its power and SOC limits."""
    for steps in raw_steps.values():
        assert steps[-1].soc_pct - BATTERY["soc_initial_pct"] == pytest.approx(
            _stored_pct(steps), abs=1e-9
        )
        for s in steps:
            assert -BATTERY["discharge_max_w"] - 1e-9 <= s.battery_w <= BATTERY["charge_max_w"]
            assert BATTERY["soc_min_pct"] - 1e-9 <= s.soc_pct <= BATTERY["soc_max_pct"] + 1e-9
            assert s.grid_w == pytest.approx(s.load_w - s.pv_w + s.battery_w)
        assert any(s.battery_w > 100 for s in steps)
        assert any(s.battery_w < -100 for s in steps)


def test_no_battery_cost_by_hand(output: dict) -> None:
    """No battery: import at the import price, surplus at the export price."""
    history, prices = _history(), _prices()
    net = (history["load_w"] - history["pv_w"]).to_numpy()
    by_hand = float(
        np.sum(
            np.where(
                net > 0,
                net / 1000 * prices["import_price_eur_per_kwh"],
                net / 1000 * prices["export_price_eur_per_kwh"],
            )
        )
    )
    assert output["strategies"]["no_battery"]["cost_eur"] == pytest.approx(by_hand, abs=1e-3)
    assert all(s["battery_w"] == 0 for s in output["strategies"]["no_battery"]["steps"])


def test_costs_are_ordered_and_share_captured(output: dict) -> None:
    """With a clear price spread: perfect foresight ≤ self-consumption ≤ no battery."""
    cost = {name: r["cost_eur"] for name, r in output["summary"].items()}
    assert cost["perfect_foresight"] <= cost["self_consumption"] < cost["no_battery"]
    assert output["summary"]["perfect_foresight"]["share_of_perfect_foresight"] == 1.0
    assert output["summary"]["no_battery"]["share_of_perfect_foresight"] == 0.0
    share = output["summary"]["ems"]["share_of_perfect_foresight"]
    expected = (cost["no_battery"] - cost["ems"]) / (cost["no_battery"] - cost["perfect_foresight"])
    assert share == pytest.approx(expected, abs=1e-3)


def test_flapping_is_measured_and_stable_execution_keeps_the_running_step(output: dict) -> None:
    """Planned strategies report flapping; stable execution changes the running step less."""
    summary = output["summary"]
    assert summary["self_consumption"]["flapping"] is None
    stable, unstable = summary["ems"]["flapping"], summary["ems_unstable"]["flapping"]
    assert stable["plans"] == unstable["plans"] == 48
    assert unstable["kept_previous"] == 0
    assert stable["kept_previous"] > 0
    assert stable["running_changes"] <= unstable["running_changes"]
    assert set(stable) == {
        "plans",
        "kept_previous",
        "running_changes",
        "running_changes_pct",
        "direction_changes_per_plan",
    }


def test_cli_writes_json_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The JSON has the documented shape; the chart is an HTML page with inline SVG."""
    out, chart = tmp_path / "out.json", tmp_path / "chart.html"
    argv = ["simulate", *_files(tmp_path), "--from", "2024-03-02", "--to", "2024-03-02"]
    assert main([*argv, "-o", str(out), "--chart", str(chart)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["strategies"]) == {
        "ems",
        "ems_unstable",
        "perfect_foresight",
        "persistence",
        "self_consumption",
        "no_battery",
    }
    for result in data["strategies"].values():
        assert isinstance(result["cost_eur"], float)
        assert len(result["steps"]) == 24
        assert set(result["steps"][0]) == {
            "start",
            "load_w",
            "pv_w",
            "battery_w",
            "grid_w",
            "soc_pct",
        }
    assert set(data["summary"]["ems"]) >= {"cost_eur", "share_of_perfect_foresight"}
    page = chart.read_text(encoding="utf-8")
    assert "<svg" in page
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    err = capsys.readouterr().err
    assert "ems 2024-03-02:" in err


def test_cli_bad_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing column or dates outside the history exit 2 with a message naming it."""
    out = str(tmp_path / "out.json")
    files = _files(tmp_path, _history().drop(columns=["pv_w"]))
    assert main(["simulate", *files, "--from", "2024-03-02", "--to", "2024-03-02", "-o", out]) == 2
    assert "pv_w" in capsys.readouterr().err
    files = _files(tmp_path)
    assert main(["simulate", *files, "--from", "2024-03-02", "--to", "2024-03-05", "-o", out]) == 2
    assert "--to 2024-03-05" in capsys.readouterr().err
    assert main(["simulate", *files, "--from", "2024-02-20", "--to", "2024-03-01", "-o", out]) == 2
    assert "--from 2024-02-20" in capsys.readouterr().err
    assert not Path(out).exists()


def test_cli_writes_a_png_chart(tmp_path: Path) -> None:
    """--chart OUT.png draws the chart with matplotlib (the add-on's png extra)."""
    out, chart = tmp_path / "out.json", tmp_path / "chart.png"
    argv = ["simulate", *_files(tmp_path), "--from", "2024-03-02", "--to", "2024-03-02"]
    argv += ["--strategy", "self_consumption", "--strategy", "no_battery"]
    assert main([*argv, "-o", str(out), "--chart", str(chart)]) == 0
    data = chart.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000


def test_cli_without_matplotlib_says_so_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No matplotlib: exit 2 at once, naming the fix; nothing is simulated or written."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    out, chart = tmp_path / "out.json", tmp_path / "chart.png"
    argv = ["simulate", *_files(tmp_path), "--from", "2024-03-02", "--to", "2024-03-02"]
    assert main([*argv, "-o", str(out), "--chart", str(chart)]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err
    assert "--chart OUT.html" in err
    assert not out.exists()
    assert not chart.exists()


def test_the_site_files_forecast_object_reaches_the_forecast() -> None:
    """`forecast` in the site file: the place and panels for the physical PV, the holidays."""
    facts = {"latitude": 47.2, "longitude": -1.55, "pv_peak_w": 4500, "country": "FR"}
    inputs = load_inputs(_history(), _prices(), {**SITE, "forecast": facts}, DAY2, DAY2)
    assert inputs.place.country == "FR"
    assert inputs.place.pv is not None
    assert inputs.place.pv.array.peak_w == 4500.0
    assert load_inputs(_history(), _prices(), SITE, DAY2, DAY2).place.pv is None
    with pytest.raises(SimulationError, match="'forecast' must be an object"):
        load_inputs(_history(), _prices(), {**SITE, "forecast": [1]}, DAY2, DAY2)
