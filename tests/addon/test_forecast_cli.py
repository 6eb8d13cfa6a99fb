"""The `forecast`, `backtest` and `learn-cycle` subcommands of `ems-optimizer`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ems_optimizer.cli import main

DATA = Path(__file__).parent / "data"
HISTORY = str(DATA / "household_fr_30min_2024-03-10_2024-04-21.csv")
WEATHER = str(DATA / "weather_nantes_hourly_2024-03-10_2024-04-22.csv")


def test_forecast_command(tmp_path, capsys):
    out = tmp_path / "forecast.json"
    code = main(
        [
            "forecast",
            "--history", HISTORY,
            "--weather", WEATHER,
            "--start", "2024-04-20T12:00:00+02:00",
            "--steps", "48",
            "--step-minutes", "30",
            "--timezone", "Europe/Paris",
            "-o", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert len(result["load_w"]) == len(result["pv_w"]) == 48
    assert result["start"] == "2024-04-20T12:00:00+02:00"
    assert result["step_minutes"] == 30
    assert result["method"]["load"]["column"] == "load_base_w"  # mapped from the shared name
    assert "load from 'load_base_w'" in capsys.readouterr().err


def test_forecast_command_with_an_external_pv_forecast(tmp_path, capsys):
    pv = tmp_path / "solcast.csv"
    index = pd.date_range("2024-04-20T10:00Z", periods=12, freq="30min")
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "pv_w": 2500.0}).to_csv(
        pv, index=False
    )
    args = ["forecast", "--history", HISTORY, "--start", "2024-04-20T12:00:00+02:00"]
    args += ["--steps", "24", "--step-minutes", "15", "--pv-forecast", str(pv)]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pv_w"][:24] == [2500.0] * 24
    assert result["method"]["pv"]["external_steps"] == 24


def test_backtest_command(tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    code = main(
        [
            "backtest",
            "--history", HISTORY,
            "--weather", WEATHER,
            "--from", "2024-04-08",
            "--to", "2024-04-14",
            "--timezone", "Europe/Paris",
            "--csv", str(scores),
            "--latitude", "47.2", "--longitude", "-1.55", "--pv-peak-w", "4500",
            "--country", "FR",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "2024-04-08 load persistence" in printed
    assert "MAE vs pers" in printed
    table = pd.read_csv(scores)
    assert set(table["method"]) == {
        "persistence",
        "weekly",
        "blend",
        "blend_temp",
        "learned",
        "ensemble",
        "weather",
        "physical",
        "clear_sky_blend",
        "auto",
    }
    assert table["day"].nunique() == 7
    mae = table.groupby(["series", "method"])["mae_w"].mean()
    assert mae["load", "auto"] < mae["load", "persistence"]  # on this week of the fixture


def test_learn_cycle_command(tmp_path, capsys):
    index = pd.date_range("2024-01-01T00:00Z", periods=6 * 24 * 60, freq="min")
    minute = np.arange(len(index)) % (24 * 60)
    power = np.where((minute >= 600) & (minute < 690), 1000.0, 1.0)  # 90 min at 1 kW daily
    history = tmp_path / "washer.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "power_w": power}).to_csv(
        history, index=False
    )
    code = main(
        [
            "learn-cycle",
            "--history", str(history),
            "--threshold-start", "50",
            "--threshold-end", "10",
            "--period-count", "5",
            "--period", "60",
            "--step-minutes", "15",
        ]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cycles"] == 6
    assert result["step_minutes"] == 15
    assert result["profile_w"] == [1000.0] * 6
    assert result["energy_wh"] == 1500.0


def test_bad_input_exits_2(tmp_path, capsys):
    naive = tmp_path / "naive.csv"
    naive.write_text("timestamp,load_w\n2024-01-01T00:00:00,100\n2024-01-01T00:30:00,100\n")
    args = ["forecast", "--history", str(naive), "--start", "2024-01-02T00:00:00+01:00"]
    assert main([*args, "--steps", "4", "--step-minutes", "15"]) == 2
    assert "no UTC offset" in capsys.readouterr().err
    args = ["learn-cycle", "--history", str(naive), "--threshold-start", "5"]
    args += ["--threshold-end", "10", "--period-count", "1", "--period", "60"]
    assert main(args) == 2
