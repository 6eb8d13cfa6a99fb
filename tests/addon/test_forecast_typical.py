"""The cold-start load: a typical household's profile scaled to the annual consumption."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ems_optimizer.forecast.typical import typical_load_w

PARIS = "Europe/Paris"


def _hours(first: str, hours: int, step: str = "60min") -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(first, tz=PARIS), periods=hours, freq=step)


def test_a_year_sums_to_the_annual_consumption():
    year = pd.date_range("2025-01-01", "2026-01-01", freq="60min", tz=PARIS, inclusive="left")
    load = typical_load_w(year, 60, annual_kwh=4000.0, tz=PARIS)
    assert load.sum() / 1000 == pytest.approx(4000.0, rel=0.01)


def test_the_day_has_a_households_shape_and_steps_average_their_quarters():
    day = typical_load_w(_hours("2025-01-15", 24), 60, annual_kwh=4000.0, tz=PARIS)
    night, evening = day[2:5].mean(), day[18:21].mean()
    assert evening > 2 * night  # the evening peak
    quarters = typical_load_w(_hours("2025-01-15", 96, "15min"), 15, annual_kwh=4000.0, tz=PARIS)
    assert day == pytest.approx(quarters.reshape(24, 4).mean(axis=1))
    assert typical_load_w(_hours("2025-01-15", 24), 60, annual_kwh=8000.0, tz=PARIS) == (
        pytest.approx(2 * day)
    )


def test_public_holidays_look_like_sundays():
    sunday = typical_load_w(_hours("2025-05-04", 24), 60, annual_kwh=4000.0, tz=PARIS)
    labour_day = typical_load_w(_hours("2025-05-01", 24), 60, annual_kwh=4000.0, tz=PARIS)
    as_holiday = typical_load_w(
        _hours("2025-05-01", 24), 60, annual_kwh=4000.0, tz=PARIS, country="FR"
    )
    assert np.allclose(as_holiday, sunday)
    assert not np.allclose(labour_day, sunday)  # without the country: a Thursday


@pytest.mark.parametrize("annual", [0.0, -5.0, float("nan")])
def test_a_bad_annual_consumption_is_named(annual):
    with pytest.raises(ValueError, match="annual consumption"):
        typical_load_w(_hours("2025-01-15", 2), 60, annual_kwh=annual, tz=PARIS)
