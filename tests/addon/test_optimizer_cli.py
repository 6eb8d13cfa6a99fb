"""The `ems-optimizer` command line: plan, replay, bench, exit codes, the forecast hook."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
import subprocess
import sys
import types

from optimizer_helpers import at, battery, scenario
import pytest

from ems_optimizer import cli
from ems_optimizer.checker import check_plan

DATA = scenario(
    steps=4,
    load_w=[300.0] * 4,
    pv_w=[0.0, 1500.0, 2500.0, 0.0],
    import_price_eur_per_kwh=[0.25, 0.2, 0.15, 0.3],
    battery=battery(soc_initial_pct=30, soc_final_pct=30),
    appliances=[{"id": "wm", "type": "cycle", "profile_w": [1200, 300], "earliest_start": at(1)}],
)


def _write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_plan_writes_a_checked_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path / "scenario.json", DATA)
    out = tmp_path / "plan.json"
    assert cli.main(["plan", source, "-o", str(out), "--check"]) == 0
    result = json.loads(out.read_text())
    assert result["status"] == "optimal"
    assert check_plan(DATA, result) == []
    captured = capsys.readouterr()
    assert "status optimal" in captured.out
    assert "keeps every constraint" in captured.err


def test_plan_to_stdout_with_a_previous_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "scenario.json", DATA)
    assert cli.main(["plan", source, "--time-limit", "5", "--gap", "0"]) == 0
    first = json.loads(capsys.readouterr().out)
    previous = _write(tmp_path / "previous.json", first)
    assert cli.main(["plan", source, "--previous", previous]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["appliances"]["wm"]["start"] == first["appliances"]["wm"]["start"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DATA | {"horizon_steps": 5}, "load_w: must have 5 values"),
        (DATA | {"appliances": [{"id": "x", "type": "oven"}]}, "appliances[0].type: unknown type"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, message: str
) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert cli.main(["plan", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_replay_shows_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    _write(run / "scenario.json", DATA)
    assert cli.main(["plan", str(run / "scenario.json"), "-o", str(run / "plan.json")]) == 0
    capsys.readouterr()
    assert cli.main(["replay", str(run), "--check"]) == 0
    assert "no change" in capsys.readouterr().out

    stored = json.loads((run / "plan.json").read_text())
    stored["appliances"]["wm"]["start"] = at(0)
    stored["status"] = "feasible"
    _write(run / "plan.json", stored)
    _write(run / "previous.json", stored)
    assert cli.main(["replay", str(run), "-o", str(tmp_path / "new.json")]) == 0
    out = capsys.readouterr().out
    assert "(with previous plan)" in out
    assert "status: feasible → optimal" in out
    assert "appliance wm: start" in out
    assert (tmp_path / "new.json").exists()


def test_bench_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "small_a.json", DATA)
    _write(tmp_path / "small_b.json", DATA | {"objective": "import"})
    assert cli.main(["bench", str(tmp_path), "--reference"]) == 0
    out = capsys.readouterr().out
    assert "small_a" in out
    assert "small_b" in out
    assert "median ms" in out
    assert "gap0 obj" in out


def test_bench_on_an_empty_folder_exits_2(tmp_path: Path) -> None:
    assert cli.main(["bench", str(tmp_path)]) == 2


def test_forecast_commands_plug_in(monkeypatch: pytest.MonkeyPatch) -> None:
    # learn-cycle's CLI borrows the forecast CLI's helpers: imported before the stand-in,
    # whatever ran before this test.
    importlib.import_module("ems_optimizer.learn.cli")
    module = types.ModuleType("ems_optimizer.forecast.cli")

    def register(subparsers) -> None:
        subparsers.add_parser("forecast-demo").set_defaults(func=lambda args: 0)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ems_optimizer.forecast.cli", module)
    assert cli.main(["forecast-demo"]) == 0


def test_console_script_runs() -> None:
    script = Path(sys.executable).with_name("ems-optimizer")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for command in ("plan", "replay", "bench"):
        assert command in done.stdout


def test_plan_risk_margin_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--risk-margin 0 plans as if the forecast were exact: a 1.5 c/kWh spread is then used."""
    data = scenario(
        steps=3,
        load_w=[0.0, 2000.0, 0.0],
        pv_w=[0.0, 0.0, 20000.0],
        import_price_eur_per_kwh=[0.10, 0.115, 0.10],
        battery=battery(soc_initial_pct=0, stored_energy_value_eur_per_kwh=0.0),
    )
    path = tmp_path / "spread.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert cli.main(["plan", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["battery_w"][:2] == [0.0, 0.0]
    assert cli.main(["plan", str(path), "--risk-margin", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["battery_w"][:2] == [2000.0, -2000.0]
