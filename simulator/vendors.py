"""How each vendor's battery takes its commands, as the vendor's document describes it.

Written from the documents (see each profile's ``source``), not from ems's capability table, so
that the tests check the table against the device's behaviour rather than against itself: the
mode registers, which value means charge, discharge or stop, and when a remote command lapses
and the device goes back to its own logic (self-consumption: it charges the PV surplus and
covers the house's deficit). Each control reads the unit's registers as a client wrote them.
"""

from __future__ import annotations

from collections.abc import Callable

from .datastore import Unit


class VendorControl:
    """A device's command logic; ``command_w`` is the power it is told now (W, + charging)."""

    def __init__(
        self,
        unit: Unit,
        clock: Callable[[], float],
        house_net_w: Callable[[], float],
        pv_w: Callable[[], float] = lambda: 0.0,
    ):
        self.unit = unit
        self.clock = clock  # simulated seconds
        self.house_net_w = house_net_w  # load − PV now (W)
        self.pv_w = pv_w  # the PV production now (W), for devices whose command counts it
        self.ignoring = False  # fault: the battery keeps doing what it did, whatever it is told
        self._held: float | None = None
        self.own_mode = True  # following its own logic (no remote command in force)

    def value(self, key: str) -> float:
        """A register as the client last wrote it."""
        return float(self.unit.model_value(key))

    def command_w(self) -> float:
        """The power the device is told now: the remote command, else its own logic."""
        if self.ignoring and self._held is not None:
            return self._held
        commanded = self.remote_w()
        self.own_mode = commanded is None
        power = -self.house_net_w() if commanded is None else commanded
        self._held = power
        return power

    def remote_w(self) -> float | None:
        """The remote command in force, None when the device follows its own logic."""
        return None

    def on_write(self, keys: set[str]) -> None:
        """A client wrote these points."""

    def tick(self) -> None:
        """Let timers run out (called every simulation step)."""

    def publish(self) -> None:
        """Write the state registers."""


class GenericBess(VendorControl):
    """ems's generic BESS: the signed setpoint register, always in force (no own logic)."""

    def remote_w(self) -> float | None:
        """The setpoint register."""
        return self.value("setpoint")


class Huawei(VendorControl):
    """47100: 0 stop, 1 forcible charge (47247 W), 2 forcible discharge (47249 W).

    With 47246 = 0 the forced mode lasts 47083 minutes from the write of 47100, then the
    inverter writes 47100 = 0 and returns to its working mode.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.started: float | None = None

    def on_write(self, keys: set[str]) -> None:
        """A write of 47100 (re)starts the forced period."""
        if "forcible_command" in keys:
            self.started = self.clock()

    def tick(self) -> None:
        """End the forced mode when its period has run out."""
        if self.started is None or self.value("forcible_setting_mode") != 0:
            return
        if self.clock() - self.started >= 60.0 * self.value("forcible_period"):
            self.unit.set("forcible_command", 0)
            self.started = None

    def remote_w(self) -> float | None:
        """Forcible charge or discharge power."""
        command = self.value("forcible_command")
        if command == 1:
            return self.value("forcible_charge_power")
        if command == 2:
            return -self.value("forcible_discharge_power")
        return None


class Sungrow(VendorControl):
    """13050 = 2 (forced): 13051 0xAA charge / 0xBB discharge / 0xCC stop at 13052 W.

    No watchdog: the forced mode stays until the EMS mode is written back to 0.
    """

    def remote_w(self) -> float | None:
        """The forced command while the EMS mode is forced."""
        if self.value("ems_mode") != 2:
            return None
        command = int(self.value("forced_command"))
        power = self.value("forced_power")
        return {0xAA: power, 0xBB: -power}.get(command, 0.0)


class Solax(VendorControl):
    """Mode 1 (power control): active power 0x7E = battery charge − PV (W), for a while.

    It holds for the shorter of its duration (0x82) and timeout (0x88), then the device runs
    its own mode again.

    The device takes the block 0x7C-0x88 in one write-multiple or not at all; 0x100 reports the
    active mode (0 when none). PV is reported on 0x0A/0x0B (two strings, half each here).
    """

    BLOCK = frozenset(
        {
            "remote_mode",
            "remote_set_type",
            "remote_active_power",
            "remote_reactive_power",
            "remote_duration",
            "remote_target_soc",
            "remote_target_energy",
            "remote_charge_discharge_power",
            "remote_timeout",
        }
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.active: tuple[float, float] | None = None  # (active power, until)

    def on_write(self, keys: set[str]) -> None:
        """A whole block applies; a part of it is ignored."""
        if not keys >= self.BLOCK:
            return
        if self.value("remote_mode") != 1:
            self.active = None
            return
        hold = min(self.value("remote_duration"), self.value("remote_timeout"))
        self.active = (self.value("remote_active_power"), self.clock() + hold)

    def tick(self) -> None:
        """The command lapses."""
        if self.active is not None and self.clock() >= self.active[1]:
            self.active = None

    def remote_w(self) -> float | None:
        """The battery's power: the active power plus the PV."""
        return None if self.active is None else self.active[0] + self.pv_w()

    def publish(self) -> None:
        """The active mode and the PV strings."""
        self.unit.set("remote_mode_state", 0 if self.active is None else 1)
        pv = max(0.0, self.pv_w())
        self.unit.set_many({"pv_power_1": round(pv / 2), "pv_power_2": pv - round(pv / 2)})


class GoodWe(VendorControl):
    """47511: 11 charge / 12 discharge at 47512 W, 8 standby, 1 auto (own logic); kept."""

    def remote_w(self) -> float | None:
        """The EMS mode's power."""
        mode = int(self.value("ems_mode"))
        power = self.value("ems_power")
        return {11: power, 12: -power, 8: 0.0}.get(mode)


class Sma(VendorControl):
    """40151 = 802: the active power setpoint 40149 (W, + discharging) is in force.

    Without a new setpoint for the communication timeout (300 s) the inverter falls back to its
    own operation until the next write.
    """

    TIMEOUT_S = 300.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.written: float | None = None

    def on_write(self, keys: set[str]) -> None:
        """A setpoint arrived."""
        if keys & {"power_setpoint", "control_enable"}:
            self.written = self.clock()

    def remote_w(self) -> float | None:
        """The setpoint while control is on and fresh."""
        if self.value("control_enable") != 802 or self.written is None:
            return None
        if self.clock() - self.written >= self.TIMEOUT_S:
            return None
        return -self.value("power_setpoint")


CONTROLS: dict[str, type[VendorControl]] = {
    "generic_bess": GenericBess,
    "huawei_sun2000_luna2000": Huawei,
    "sungrow_sh_rt": Sungrow,
    "solax_hybrid_g4": Solax,
    "goodwe_et": GoodWe,
    "sma_sunny_boy_storage": Sma,
}
