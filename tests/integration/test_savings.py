"""Cost and savings: the pure accounting by hand, then the sensors on the simulator site."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)
from site_helpers import setup_site

from custom_components.ems.savings import (
    MAX_GAP,
    SKIP_BATTERY,
    SKIP_METER,
    PeriodTotals,
    Sample,
    SavingsAccountant,
    ShadowBattery,
    grid_cost,
    period_starts,
)

PARIS = ZoneInfo("Europe/Paris")
STEP = timedelta(seconds=10)


def _run(
    accountant: SavingsAccountant,
    start: datetime,
    duration: timedelta,
    sample: Sample,
    shadow: ShadowBattery | None = None,
) -> datetime:
    """Sample every 10 s from ``start`` for ``duration`` (plus the first sample); return the end."""
    now = start
    accountant.sample(now, sample, lambda: shadow)
    while now < start + duration:
        now += STEP
        accountant.sample(now, sample, lambda: shadow)
    return now


def _battery(**kwargs: float) -> ShadowBattery:
    values = {
        "capacity_wh": 10_000.0,
        "soc_pct": 50.0,
        "soc_min_pct": 10.0,
        "soc_max_pct": 90.0,
        "charge_max_w": 3000.0,
        "discharge_max_w": 2000.0,
        "charge_efficiency": 1.0,
        "discharge_efficiency": 1.0,
    } | kwargs
    return ShadowBattery(**values)


def test_grid_cost_import_and_export() -> None:
    assert grid_cost(1000.0, 0.25, 0.1, 3600) == pytest.approx(0.25)
    assert grid_cost(-2000.0, 0.25, 0.1, 1800) == pytest.approx(-0.1)
    assert grid_cost(0.0, 0.25, 0.1, 3600) == 0.0


def test_an_hour_by_hand() -> None:
    """1 kW import while the battery gives 500 W: 0.20 € paid, 0.10 € saved (1.5 kWh without)."""
    accountant = SavingsAccountant(tz=PARIS)
    start = datetime(2025, 3, 10, 8, 0, tzinfo=PARIS)
    sample = Sample(grid_w=1000.0, battery_w=-500.0, import_price=0.2, export_price=0.1)
    _run(accountant, start, timedelta(hours=1), sample)
    for totals in (accountant.day, accountant.month):
        assert totals is not None
        assert totals.cost == pytest.approx(0.2)
        assert totals.saved_no_battery == pytest.approx(0.1)
        assert totals.saved_self_consumption == pytest.approx(0.0)  # no shadow: saves nothing
        assert totals.skipped_seconds == 0


def test_exporting_earns_and_a_charging_battery_costs_exports() -> None:
    """Export 2 kW for 30 min at 0.10 €; the battery took 1 kW that would have been exported."""
    accountant = SavingsAccountant(tz=PARIS)
    start = datetime(2025, 3, 10, 12, 0, tzinfo=PARIS)
    sample = Sample(grid_w=-2000.0, battery_w=1000.0, import_price=0.2, export_price=0.1)
    _run(accountant, start, timedelta(minutes=30), sample)
    assert accountant.day is not None
    assert accountant.day.cost == pytest.approx(-0.1)
    assert accountant.day.saved_no_battery == pytest.approx(-0.05)


def test_a_long_gap_counts_at_most_max_gap() -> None:
    accountant = SavingsAccountant(tz=PARIS)
    start = datetime(2025, 3, 10, 8, 0, tzinfo=PARIS)
    sample = Sample(grid_w=3600.0, battery_w=0.0, import_price=1.0, export_price=0.0)
    accountant.sample(start, sample)
    accountant.sample(start + timedelta(hours=2), sample)
    assert accountant.day is not None
    # 3.6 kW for MAX_GAP seconds at 1 €/kWh.
    assert accountant.day.cost == pytest.approx(MAX_GAP.total_seconds() / 1000.0)


def test_unavailable_meter_or_battery_is_skipped_and_said() -> None:
    accountant = SavingsAccountant(tz=PARIS)
    start = datetime(2025, 3, 10, 8, 0, tzinfo=PARIS)
    no_meter = Sample(grid_w=None, battery_w=0.0, import_price=0.2, export_price=0.1)
    end = _run(accountant, start, timedelta(minutes=1), no_meter)
    assert accountant.skip_reason == SKIP_METER
    assert accountant.day is not None
    assert accountant.day.cost == 0.0
    assert accountant.day.skipped_seconds == pytest.approx(60)
    no_battery = Sample(grid_w=500.0, battery_w=None, import_price=0.2, export_price=0.1)
    accountant.sample(end + STEP, no_battery)
    assert accountant.skip_reason == SKIP_BATTERY
    ok = Sample(grid_w=500.0, battery_w=0.0, import_price=0.2, export_price=0.1)
    accountant.sample(end + 2 * STEP, ok)
    assert accountant.skip_reason is None
    assert accountant.month is not None
    assert accountant.month.skipped_seconds == pytest.approx(70)


def test_shadow_battery_charges_within_power_then_window() -> None:
    battery = _battery()
    # 5 kW surplus for one hour: charges at its 3 kW limit, 2 kW go to the grid.
    assert battery.step(-5000.0, 3600) == pytest.approx(-2000.0)
    assert battery.soc_pct == pytest.approx(80.0)
    # Only 1 kWh of room left below 90 %: 1 kW over the next hour, the rest exported.
    assert battery.step(-5000.0, 3600) == pytest.approx(-4000.0)
    assert battery.soc_pct == pytest.approx(90.0)
    assert battery.step(-5000.0, 3600) == pytest.approx(-5000.0)


def test_shadow_battery_discharges_within_power_window_and_losses() -> None:
    battery = _battery(discharge_efficiency=0.8, soc_pct=30.0)
    # 1 kW deficit for one hour: covers it, taking 1.25 kWh from the cells (12.5 %).
    assert battery.step(1000.0, 3600) == pytest.approx(0.0)
    assert battery.soc_pct == pytest.approx(17.5)
    # 0.75 kWh left above 10 %: gives 0.6 kWh at the AC side, the grid the rest.
    assert battery.step(3000.0, 3600) == pytest.approx(2400.0)
    assert battery.soc_pct == pytest.approx(10.0)
    assert battery.step(1500.0, 3600) == pytest.approx(1500.0)


def test_shadow_battery_charging_losses() -> None:
    battery = _battery(charge_efficiency=0.5, soc_pct=85.0)
    # 500 Wh of room takes 1000 Wh from the surplus.
    assert battery.step(-3000.0, 3600) == pytest.approx(-2000.0)
    assert battery.soc_pct == pytest.approx(90.0)


def test_saved_against_the_shadow_battery() -> None:
    """The real battery does nothing while a 1 kW deficit lasts: the shadow covers it."""
    accountant = SavingsAccountant(tz=PARIS)
    start = datetime(2025, 3, 10, 18, 0, tzinfo=PARIS)
    sample = Sample(grid_w=1000.0, battery_w=0.0, import_price=0.2, export_price=0.1)
    _run(accountant, start, timedelta(hours=1), sample, _battery())
    assert accountant.day is not None
    assert accountant.day.cost == pytest.approx(0.2)
    assert accountant.day.saved_no_battery == pytest.approx(0.0)
    assert accountant.day.saved_self_consumption == pytest.approx(-0.2)
    assert accountant.shadow is not None
    assert accountant.shadow.soc_pct == pytest.approx(40.0)


def test_period_starts_in_local_time() -> None:
    late = datetime(2025, 3, 31, 23, 30, tzinfo=PARIS)  # 21:30 UTC
    day, month = period_starts(late.astimezone(ZoneInfo("UTC")), PARIS)
    assert day == datetime(2025, 3, 31, tzinfo=PARIS)
    assert month == datetime(2025, 3, 1, tzinfo=PARIS)


def test_midnight_resets_the_day_and_restarts_the_shadow() -> None:
    accountant = SavingsAccountant(tz=PARIS)
    sample = Sample(grid_w=1000.0, battery_w=0.0, import_price=0.36, export_price=0.1)
    shadows = iter([_battery(soc_pct=10.0), _battery(soc_pct=70.0)])
    before = datetime(2025, 3, 10, 23, 59, 50, tzinfo=PARIS)
    accountant.sample(before, sample, lambda: next(shadows))
    accountant.sample(before + STEP, sample, lambda: next(shadows))  # 23:59:60 = midnight
    assert accountant.day is not None
    assert accountant.day.start == datetime(2025, 3, 11, tzinfo=PARIS)
    assert accountant.day.cost == pytest.approx(0.001)  # the interval ending at midnight
    assert accountant.shadow is not None
    assert accountant.shadow.soc_pct < 70.0  # the new day's shadow, already discharging
    assert accountant.month is not None
    assert accountant.month.start == datetime(2025, 3, 1, tzinfo=PARIS)
    assert accountant.month.cost == pytest.approx(0.001)


def test_month_reset_on_the_first_local_midnight() -> None:
    accountant = SavingsAccountant(tz=PARIS)
    sample = Sample(grid_w=1000.0, battery_w=0.0, import_price=0.36, export_price=0.1)
    end = _run(accountant, datetime(2025, 3, 31, 23, 0, tzinfo=PARIS), timedelta(hours=1), sample)
    # 23:00 → 00:00: the last 10 s interval belongs to April.
    assert accountant.month is not None
    assert accountant.month.start == datetime(2025, 4, 1, tzinfo=PARIS)
    assert accountant.month.cost == pytest.approx(0.001)
    accountant.sample(end + STEP, sample)
    assert accountant.month.cost == pytest.approx(0.002)


def test_snapshot_round_trip_keeps_totals_and_shadow() -> None:
    accountant = SavingsAccountant(tz=PARIS)
    start = datetime(2025, 3, 10, 18, 0, tzinfo=PARIS)
    sample = Sample(grid_w=1000.0, battery_w=-200.0, import_price=0.2, export_price=0.1)
    _run(accountant, start, timedelta(minutes=30), sample, _battery())
    restored = SavingsAccountant(tz=PARIS)
    restored.restore(accountant.as_dict())
    assert restored.day == accountant.day
    assert restored.month == accountant.month
    assert restored.shadow == accountant.shadow
    assert restored.last_sample is None  # the downtime is not counted
    assert PeriodTotals.from_dict({"start": "nonsense"}) is None


# --- on the simulator site ---------------------------------------------------------------------

SENSORS = (
    "sensor.home_grid_cost_today",
    "sensor.home_grid_cost_this_month",
    "sensor.home_saved_by_the_battery_today",
    "sensor.home_saved_by_the_battery_this_month",
    "sensor.home_saved_against_plain_self_consumption_today",
    "sensor.home_saved_against_plain_self_consumption_this_month",
)


async def _advance(hass: HomeAssistant, sim, seconds: int) -> None:
    """Let the site run ``seconds`` (simulator and HA's timers) in 10 s steps."""
    now = dt_util.utcnow()
    for elapsed in range(10, seconds + 1, 10):
        sim.site.step(10)
        async_fire_time_changed(hass, now + timedelta(seconds=elapsed))
        await hass.async_block_till_done()


@pytest.fixture
async def site(hass: HomeAssistant, sim):
    """A dark site with an 800 W house load and a half-full battery."""
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 800.0
    sim.site.battery.soc = 50.0
    sim.site.refresh()
    entry = await setup_site(hass, sim)
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_sensors_are_euro_totals_that_survive_a_reload(
    hass: HomeAssistant, site, sim
) -> None:
    for entity_id in SENSORS:
        assert hass.states.get(entity_id) is not None, entity_id
    await _advance(hass, sim, 40)
    for entity_id in SENSORS:
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state != STATE_UNAVAILABLE, entity_id
        float(state.state)
        assert state.attributes["unit_of_measurement"] == "EUR"
        assert state.attributes["state_class"] == "total"
        assert state.attributes["device_class"] == "monetary"
        assert state.attributes["last_reset"]
        assert state.attributes["skipped_seconds"] >= 0
    shadow = hass.states.get(SENSORS[4])
    assert shadow is not None
    assert shadow.attributes["shadow_soc"] is not None
    before = {e: hass.states.get(e).state for e in SENSORS}  # type: ignore[union-attr]
    assert await hass.config_entries.async_reload(site.entry_id)
    await hass.async_block_till_done()
    after = {e: hass.states.get(e).state for e in SENSORS}  # type: ignore[union-attr]
    assert after == before


async def test_totals_restored_after_a_restart(hass: HomeAssistant, sim) -> None:
    tz = dt_util.get_default_time_zone()
    day, month = period_starts(dt_util.utcnow(), tz)
    snapshot = {
        "day": PeriodTotals(start=day, cost=1.25, saved_no_battery=0.5).as_dict(),
        "month": PeriodTotals(start=month, cost=12.5, saved_self_consumption=2.0).as_dict(),
        "shadow": None,
        "last_sample": dt_util.utcnow().isoformat(),
    }
    mock_restore_cache_with_extra_data(
        hass, [(State(entity_id, "0"), snapshot) for entity_id in SENSORS]
    )
    entry = await setup_site(hass, sim)
    values = {e: hass.states.get(e).state for e in SENSORS}  # type: ignore[union-attr]
    assert values == {
        SENSORS[0]: "1.25",
        SENSORS[1]: "12.5",
        SENSORS[2]: "0.5",
        SENSORS[3]: "0.0",
        SENSORS[4]: "0.0",
        SENSORS[5]: "2.0",
    }
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
