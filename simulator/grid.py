"""The grid behind the simulated meter: scripted frequency and voltage events.

Frequency-reserve prequalification tests (ENTSO-E FCR, Nordic FCR-D / FFR) drive a unit with
frequency steps and ramps and measure its response; :class:`GridScript` plays such a script on
the simulator's clock. Each event moves a quantity (frequency in Hz, or the feeder's source
voltage offset in V) from where it is to a target, at once (a step) or linearly over
``ramp_s`` (a ramp); events are played in start order. The meter adds the site's own effect on
the voltage (the feeder model, in ``models.GridMeter``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

NOMINAL_HZ = 50.0

Quantity = Literal["frequency", "voltage"]


@dataclass(frozen=True, slots=True)
class GridEvent:
    """Move ``quantity`` to ``value`` starting ``start_s`` after the script's start."""

    quantity: Quantity
    start_s: float
    value: float  # Hz (frequency) or V added to the feeder's source voltage (voltage)
    ramp_s: float = 0.0  # 0: a step

    def __post_init__(self) -> None:
        """Refuse what no grid does."""
        if self.quantity not in ("frequency", "voltage"):
            raise ValueError(f"quantity must be frequency or voltage, got {self.quantity!r}")
        if self.start_s < 0 or self.ramp_s < 0:
            raise ValueError("start_s and ramp_s must be >= 0")
        if self.quantity == "frequency" and not 45.0 <= self.value <= 55.0:
            raise ValueError(f"frequency {self.value} Hz is outside 45-55 Hz")


@dataclass(slots=True)
class GridScript:
    """Scripted frequency and source-voltage offset against the script's own clock."""

    events: list[GridEvent] = field(default_factory=list)
    start_t: float | None = None  # simulator epoch time of the script's 0 (set when played)

    def play(self, events: Iterable[GridEvent], now_t: float) -> None:
        """Start a new script now (replacing the old one)."""
        self.events = sorted(events, key=lambda e: e.start_s)
        self.start_t = now_t

    def clear(self) -> None:
        """Back to a nominal grid."""
        self.events = []
        self.start_t = None

    def value(self, quantity: Quantity, t: float) -> float:
        """Frequency (Hz) or source-voltage offset (V) at epoch time ``t``."""
        current = NOMINAL_HZ if quantity == "frequency" else 0.0
        if self.start_t is None:
            return current
        elapsed = t - self.start_t
        for event in self.events:
            if event.quantity != quantity or elapsed < event.start_s:
                continue
            done = elapsed - event.start_s
            if event.ramp_s > 0 and done < event.ramp_s:
                current += (event.value - current) * done / event.ramp_s
                break
            current = event.value
        return current


def frequency_step(
    to_hz: float, at_s: float = 0.0, back_after_s: float | None = None
) -> list[GridEvent]:
    """A step to ``to_hz`` (and back to nominal after ``back_after_s``)."""
    events = [GridEvent("frequency", at_s, to_hz)]
    if back_after_s is not None:
        events.append(GridEvent("frequency", at_s + back_after_s, NOMINAL_HZ))
    return events


def frequency_ramp(to_hz: float, ramp_s: float, at_s: float = 0.0) -> list[GridEvent]:
    """A linear ramp from nominal to ``to_hz`` over ``ramp_s``."""
    return [GridEvent("frequency", at_s, to_hz, ramp_s)]


def voltage_step(offset_v: float, at_s: float = 0.0) -> list[GridEvent]:
    """The feeder's source voltage moves by ``offset_v`` (another load, a tap change)."""
    return [GridEvent("voltage", at_s, offset_v)]
