"""Solve the `emhass_*` benchmark scenarios with EMHASS and with ems; compare cost and time.

EMHASS is not a dependency of this project: run this script with a separate virtualenv that has
`emhass==0.18.7` (it needs Python ≤ 3.12 wheels), e.g.

    python3.12 -m venv /tmp/emhass-venv && /tmp/emhass-venv/bin/pip install emhass==0.18.7
    /tmp/emhass-venv/bin/python benchmarks/emhass_compare.py [--ems .venv/bin/ems-optimizer]

EMHASS is configured for the same problem: objective `profit` (import cost − export revenue),
MIP gap 0, its default 5 kWh / 1 kW battery with SOC 30→60 %, two semi-continuous deferrable
loads of 3000 W × 4 h and 750 W × 2 h over the whole day, grid limits 9 kW, no curtailment,
discharge to the grid allowed (ems allows it). Both costs are recomputed here from each plan's
grid series with the scenario's prices. Times: EMHASS's own build+solve stage timer (its ~3 s of
imports excluded); ems: build_time_ms + solve_time_ms from the plan.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path
import statistics
import subprocess
import tempfile
import time
from typing import Any

import emhass
from emhass import utils
from emhass.optimization import Optimization
import pandas as pd

HERE = Path(__file__).resolve().parent


def grid_cost(scenario: dict[str, Any], grid_w: list[float]) -> float:
    """Import cost − export revenue of a grid series (€)."""
    dt_h = scenario["step_minutes"] / 60
    imp, exp = scenario["import_price_eur_per_kwh"], scenario["export_price_eur_per_kwh"]
    return sum(
        dt_h / 1000 * (max(g, 0.0) * imp[t] - max(-g, 0.0) * exp[t]) for t, g in enumerate(grid_w)
    )


async def emhass_setup() -> tuple[Any, ...]:
    """EMHASS's default configuration, parsed the way its command line does."""
    root = Path(emhass.__file__).parent
    data = Path(tempfile.mkdtemp())
    conf = {
        "data_path": data,
        "root_path": root,
        "defaults_path": root / "data" / "config_defaults.json",
        "associations_path": root / "data" / "associations.csv",
    }
    logger = logging.getLogger("emhass")
    logger.setLevel(logging.ERROR)
    config = await utils.build_config(conf, logger, str(conf["defaults_path"]))
    params = await utils.build_params(conf, {}, config, logger)
    retrieve, optim, plant = utils.get_yaml_parse(params, logger)
    return conf, logger, retrieve, optim, plant


def solve_emhass(
    scenario: dict[str, Any], setup: tuple[Any, ...]
) -> tuple[list[float], float, str]:
    """EMHASS's plan for a scenario: grid series, build+solve ms, status."""
    conf, logger, retrieve, optim, plant = setup
    battery = scenario["battery"]
    steps = scenario["horizon_steps"]
    retrieve = {
        **retrieve,
        "optimization_time_step": pd.Timedelta(minutes=scenario["step_minutes"]),
    }
    optim = {
        **optim,
        "set_use_battery": True,
        "lp_solver_mip_rel_gap": 0.0,
        "set_nodischarge_to_grid": False,
        "number_of_deferrable_loads": 2,
        "nominal_power_of_deferrable_loads": [a["power_w"] for a in scenario["appliances"]],
        "operating_hours_of_each_deferrable_load": [
            a["energy_wh"] / a["power_w"] for a in scenario["appliances"]
        ],
        "treat_deferrable_load_as_semi_cont": [True, True],
        "start_timesteps_of_each_deferrable_load": [0, 0],
        "end_timesteps_of_each_deferrable_load": [0, 0],
        "delta_forecast_daily": pd.Timedelta(hours=steps * scenario["step_minutes"] / 60),
    }
    plant = {
        **plant,
        "maximum_power_from_grid": scenario["grid"]["import_limit_w"],
        "maximum_power_to_grid": scenario["grid"]["export_limit_w"],
        "battery_nominal_energy_capacity": battery["capacity_wh"],
        "battery_charge_power_max": battery["charge_max_w"],
        "battery_discharge_power_max": battery["discharge_max_w"],
        "battery_charge_efficiency": battery["charge_efficiency"],
        "battery_discharge_efficiency": battery["discharge_efficiency"],
        "battery_minimum_state_of_charge": battery["soc_min_pct"] / 100,
        "battery_maximum_state_of_charge": battery["soc_max_pct"] / 100,
        "battery_target_state_of_charge": battery["soc_final_pct"] / 100,
    }
    index = pd.date_range(
        pd.Timestamp(scenario["start"]), periods=steps, freq=f"{scenario['step_minutes']}min"
    )
    data = pd.DataFrame(
        {
            "unit_load_cost": scenario["import_price_eur_per_kwh"],
            "unit_prod_price": scenario["export_price_eur_per_kwh"],
        },
        index=index,
    )
    pv = pd.Series(scenario["pv_w"], index=index)
    load = pd.Series(scenario["load_w"], index=index)
    opt = Optimization(
        retrieve,
        optim,
        plant,
        "unit_load_cost",
        "unit_prod_price",
        "profit",
        conf,
        logger,
        num_timesteps=steps,
    )
    stages: dict[str, float] = {}
    began = time.perf_counter()
    result = opt.perform_optimization(
        data,
        pv.values,
        load.values,
        data["unit_load_cost"].values,
        data["unit_prod_price"].values,
        soc_init=battery["soc_initial_pct"] / 100,
        soc_final=battery["soc_final_pct"] / 100,
        stage_times=stages,
    )
    wall_ms = (time.perf_counter() - began) * 1000
    build_solve_ms = 1000 * (
        stages.get("optim_solve.build", 0.0) + stages.get("optim_solve.solve", 0.0)
    )
    grid = list(result["P_grid"].values)
    return grid, build_solve_ms or wall_ms, str(opt.optim_status)


def solve_ems(ems: str, path: Path) -> dict[str, Any]:
    """The ems plan of a scenario file, through its CLI.

    EMHASS gives no value to the energy left above the final SOC and plans on its forecast as
    if exact, so neither does ems here (``stored_energy_value_eur_per_kwh`` 0, ``--risk-margin
    0``): the same problem on both sides.
    """
    scenario = json.loads(path.read_text(encoding="utf-8"))
    scenario["battery"]["stored_energy_value_eur_per_kwh"] = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        same = Path(tmp) / path.name
        same.write_text(json.dumps(scenario), encoding="utf-8")
        out = subprocess.run(
            [ems, "plan", str(same), "--risk-margin", "0"],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout)


def main() -> None:
    """Compare every emhass_* scenario."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", type=Path, default=HERE / "scenarios")
    parser.add_argument("--ems", default=str(HERE.parent / ".venv" / "bin" / "ems-optimizer"))
    args = parser.parse_args()
    setup = asyncio.run(emhass_setup())
    rows = []
    print(
        f"{'scenario':24} {'EMHASS €':>10} {'ems €':>10} {'Δ %':>8} {'EMHASS ms':>10} "
        f"{'ems ms':>8} {'speed-up':>8}  status"
    )
    for path in sorted(args.scenarios.glob("emhass_*.json")):
        scenario = json.loads(path.read_text())
        grid, emhass_ms, status = solve_emhass(scenario, setup)
        plan = solve_ems(args.ems, path)
        ems_ms = plan["build_time_ms"] + plan["solve_time_ms"]
        a, b = grid_cost(scenario, grid), grid_cost(scenario, plan["grid_w"])
        delta = 100 * (b - a) / abs(a) if a else 0.0
        rows.append((emhass_ms, ems_ms, delta))
        print(
            f"{path.stem:24} {a:10.4f} {b:10.4f} {delta:8.3f} {emhass_ms:10.0f} {ems_ms:8.0f} "
            f"{emhass_ms / ems_ms:7.1f}×  {status} / {plan['status']}"
        )
    e_med = statistics.median(r[0] for r in rows)
    m_med = statistics.median(r[1] for r in rows)
    print(
        f"median build+solve: EMHASS {e_med:.0f} ms, ems {m_med:.0f} ms "
        f"({e_med / m_med:.1f}× faster); "
        f"max EMHASS {max(r[0] for r in rows):.0f} ms, ems {max(r[1] for r in rows):.0f} ms; "
        f"cost Δ max {max(abs(r[2]) for r in rows):.3f} %"
    )


if __name__ == "__main__":
    main()
