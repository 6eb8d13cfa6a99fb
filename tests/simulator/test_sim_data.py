"""The day of the data a date plays: same season (winter PV in winter), aligned with the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from simulator import Site
from simulator.__main__ import parse_args
from simulator.data import (
    BUNDLED_FILE,
    BUNDLED_WINTER_FILE,
    DATA_FILE,
    PV_W_PER_GHI,
    WEATHER_FILE,
    WINTER_LOAD_FILE,
    available_data,
    data_for,
    load_house_data,
    load_winter_data,
    pick_day,
    season_distance,
    season_start,
)


@pytest.fixture
def bundled() -> tuple:
    """The two bundled slices: five June days (measured), five December days (PV modelled)."""
    return load_house_data(BUNDLED_FILE), load_house_data(BUNDLED_WINTER_FILE)


@pytest.fixture
def no_shared_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither $EMS_DATA_DIR nor <repo>/../shared/data has the data."""
    monkeypatch.setattr("simulator.data.REPO_ROOT", tmp_path / "repo")
    monkeypatch.setenv("EMS_DATA_DIR", str(tmp_path / "nowhere"))


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _half_hours(first: datetime, days: int) -> list[datetime]:
    return [first + timedelta(minutes=30 * i) for i in range(48 * days)]


def _sun(t: datetime, peak: float) -> float:
    """A bell of PV between 08:00 and 16:00 UTC."""
    hours = t.hour + t.minute / 60
    return round(max(0.0, peak * (1 - ((hours - 12) / 4) ** 2)), 1)


@pytest.fixture
def shared_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A small shared data folder: June 2024 measured, December 2022 load and weather."""
    folder = tmp_path / "shared"
    folder.mkdir()
    june = _half_hours(datetime(2024, 6, 10, tzinfo=UTC), 10)
    _write(
        folder / DATA_FILE,
        "timestamp,load_total_w,load_base_w,load_deferrable_w,pv_w,pv_fill_code",
        [f"{t.isoformat()},500,400,100,{_sun(t, 4000)},m" for t in june],
    )
    december = _half_hours(datetime(2022, 12, 1, tzinfo=UTC), 31)
    _write(
        folder / WINTER_LOAD_FILE,
        "timestamp,load_base_w",
        [f"{t.isoformat()},{600 + t.day}" for t in december],
    )
    hours = [datetime(2022, 11, 30, tzinfo=UTC) + timedelta(hours=i) for i in range(24 * 33)]
    _write(
        folder / WEATHER_FILE,
        "timestamp,temp_c,ghi_clearsky_model_w_per_m2,ghi_from_cloudcover_est_w_per_m2",
        # 18 December is the sunniest day of the month
        [f"{t.isoformat()},5,0,{_sun(t, 300 if t.day == 18 else 100)}" for t in hours],
    )
    monkeypatch.setenv("EMS_DATA_DIR", str(folder))
    return folder


def test_december_plays_a_december_day_june_a_june_day(bundled: tuple) -> None:
    december = pick_day(date(2025, 12, 20), bundled)
    assert december.day.month == 12
    assert december.data.pv_modelled
    june = pick_day(date(2025, 6, 20), bundled)
    assert june.day == date(2024, 6, 13)  # the sunniest June day of the slice
    assert not june.data.pv_modelled
    assert pick_day(date(2026, 1, 15), bundled).day.month == 12  # winter
    assert pick_day(date(2025, 8, 1), bundled).day.month == 6  # summer


def test_without_the_shared_folder_the_bundled_slices_play(no_shared_data: None) -> None:
    sources = available_data()
    assert [data.path for data in sources] == [BUNDLED_FILE, BUNDLED_WINTER_FILE]
    start = season_start(datetime(2025, 12, 24, 9, 41, 7, tzinfo=UTC))
    assert start.month == 12
    assert data_for(start).path == BUNDLED_WINTER_FILE


def test_start_keeps_the_clock_time_of_day(bundled: tuple) -> None:
    now = datetime(2025, 12, 2, 14, 33, 12, 500000, tzinfo=UTC)
    start = season_start(now, bundled)
    assert start.month == 12
    assert (start.hour, start.minute, start.second, start.microsecond) == (14, 33, 12, 500000)
    paris = datetime(2025, 6, 18, 1, 15, tzinfo=UTC).astimezone()  # any zone: UTC time of day
    assert season_start(paris, bundled) == datetime(2024, 6, 13, 1, 15, tzinfo=UTC)


def test_shared_winter_is_the_measured_load_with_pv_from_the_weather(shared_folder: Path) -> None:
    winter = load_winter_data(shared_folder / WINTER_LOAD_FILE, shared_folder / WEATHER_FILE)
    assert winter.pv_modelled
    noon = datetime(2022, 12, 18, 12, 30, tzinfo=UTC)  # the 12:00 hour's mean, at mid-hour
    assert winter.pv_w.at(noon.timestamp()) == pytest.approx(300 * PV_W_PER_GHI)
    assert winter.load_w.at(noon.timestamp()) == pytest.approx(618)
    sources = available_data()
    assert [data.path.parent for data in sources] == [shared_folder, shared_folder]
    december = pick_day(date(2025, 12, 15))
    assert december.data.pv_modelled
    assert december.day == date(2022, 12, 18)  # the sunniest within a week, in the same month
    june = pick_day(date(2025, 6, 15))
    assert june.data.path == shared_folder / DATA_FILE
    assert june.day.month == 6
    site = Site(start=season_start(datetime(2025, 12, 15, 12, 30, tzinfo=UTC)), sunspec=False)
    assert site.data.pv_modelled
    assert site.pv.available == pytest.approx(300 * PV_W_PER_GHI)


def test_measured_pv_is_preferred_and_days_need_pv(tmp_path: Path) -> None:
    measured = _half_hours(datetime(2024, 2, 28, tzinfo=UTC), 5)  # PV reads 0 until 1 March
    path = _write(
        tmp_path / "measured.csv",
        "timestamp,load_base_w,pv_w",
        [f"{t.isoformat()},400,{_sun(t, 2000) if t.month == 3 else 0}" for t in measured],
    )
    data = load_house_data(path)
    assert data.days() == [date(2024, 3, 1), date(2024, 3, 2)]  # the 3rd ends at 23:30
    december = _half_hours(datetime(2022, 12, 1, tzinfo=UTC), 3)
    winter = load_house_data(
        _write(
            tmp_path / "winter_pv_modelled.csv",
            "timestamp,load_base_w,pv_w",
            [f"{t.isoformat()},400,{_sun(t, 9000)}" for t in december],
        )
    )
    assert winter.pv_modelled
    # 25 February: the winter days are 84 days away, 1-2 March 4 and 5 days: measured.
    assert pick_day(date(2025, 2, 25), (data, winter)).day == date(2024, 3, 1)
    # 5 December: the nearest are the winter days, though less sunny ones are measured.
    assert pick_day(date(2025, 12, 5), (data, winter)).data is winter


def test_a_day_with_a_long_gap_is_not_played(tmp_path: Path) -> None:
    rows = [
        f"{t.isoformat()},400,{_sun(t, 3000)}"
        for t in _half_hours(datetime(2024, 6, 1, tzinfo=UTC), 3)
        if not (t.day == 2 and 6 <= t.hour < 11)  # five hours missing on 2 June
    ]
    data = load_house_data(_write(tmp_path / "gap.csv", "timestamp,load_base_w,pv_w", rows))
    assert data.days() == [date(2024, 6, 1)]  # the 3rd ends at 23:30: not whole


def test_season_distance_wraps_around_the_year() -> None:
    assert season_distance(date(2025, 12, 31), date(2023, 1, 1)) == 1
    assert season_distance(date(2024, 2, 29), date(2023, 2, 28)) == 0
    assert season_distance(date(2025, 6, 21), date(2022, 12, 21)) == 182


def test_a_start_outside_every_source_names_them(bundled: tuple) -> None:
    with pytest.raises(ValueError, match=r"outside the data \(household_fr_30min_2024-06-12"):
        data_for(datetime(2021, 1, 1, tzinfo=UTC), bundled)


def test_the_command_line_defaults_to_today_s_season() -> None:
    assert parse_args([]).start is None
    assert parse_args(["--start", "2024-06-13T06:00"]).start == datetime(2024, 6, 13, 6, tzinfo=UTC)
