"""A simulated SunSpec hybrid device: 5 kW PV inverter and 5 kWh battery behind one SunSpec map.

The register image is the core's :class:`~ems_core.sunspec_image.SunSpecImage` (the codec the
site's Modbus server uses too), laid out with the real SunSpec model lengths, so standard SunSpec
clients can walk it: "SunS" at ``base``, then models 1 (common), 103 (three-phase inverter),
124 (basic storage), 704 (DER controls: the active power setpoint), 802 (battery) and the end
marker 0xFFFF. Values are encoded through the
core's ``ems_core.profile``; points the device does not
implement hold the SunSpec not-implemented markers.

Model 103 reports the PV output (W = pv_fraction x 5 kW); the battery is metered by 124/802
on its own, as an AC-coupled pair sharing one map. The battery charges from the PV output
within its limits; a client steers it through model 124 as Fronius-style hybrids do:
StorCtl_Mod bit 0 caps charging at InWRte % of WChaMax, bit 1 caps discharging at OutWRte %
of WChaMax (the model's unit for both rates), and a negative cap forces the other direction
(OutWRte < 0 forces a charge, InWRte < 0 a discharge). An enabled 704 active power setpoint
in watts (WSetEna = 1, WSetMod = 1, WSet + discharging) fixes the power instead; both revert
after their revert times. 802 SetOp 2 disconnects the battery, 1 connects it.
"""

from __future__ import annotations

from typing import Any

from ems_core.sunspec_image import ImageError, SunSpecImage

MODEL_IDS = (1, 103, 124, 704, 802)

PV_RATED_W = 5000.0
CAPACITY_WH = 5000.0
MAX_CHARGE_W = 2500.0
MAX_DISCHARGE_W = 2500.0
EFFICIENCY = 0.96  # one way, charge and discharge
CELLS = 16  # LFP cells in series
AC_VOLTAGE = 230.0
DC_VOLTAGE = 600.0

# Scale factors the device publishes: (model, sunssf point) → exponent.
SCALE_FACTORS: dict[tuple[int, str], int] = {
    (103, "A_SF"): -2,
    (103, "V_SF"): -1,
    (103, "W_SF"): 0,
    (103, "Hz_SF"): -2,
    (103, "WH_SF"): 0,
    (103, "DCA_SF"): -2,
    (103, "DCV_SF"): -1,
    (103, "DCW_SF"): 0,
    (103, "Tmp_SF"): -1,
    (124, "WChaMax_SF"): 0,
    (124, "WChaDisChaGra_SF"): 0,
    (124, "MinRsvPct_SF"): -1,
    (124, "ChaState_SF"): -1,
    (124, "StorAval_SF"): -1,
    (124, "InBatV_SF"): -1,
    (124, "InOutWRte_SF"): -2,
    (802, "AHRtg_SF"): -1,
    (802, "WHRtg_SF"): 0,
    (802, "WChaDisChaMax_SF"): 0,
    (802, "SoC_SF"): -1,
    (802, "SoH_SF"): -1,
    (802, "V_SF"): -1,
    (802, "CellV_SF"): -3,
    (802, "A_SF"): -1,
    (802, "AMax_SF"): 0,
    (802, "W_SF"): 0,
    (704, "WSet_SF"): 0,
}

# Values set once; writable points keep what clients write afterwards.
STATIC: dict[tuple[int, str], Any] = {
    (1, "Mn"): "ems",
    (1, "Md"): "SimHybrid",
    (1, "Opt"): "",
    (1, "Vr"): "1.0.0",
    (1, "SN"): "SIMSUNSPEC01",
    (1, "DA"): 5,
    (103, "Evt1"): 0,
    (103, "Evt2"): 0,
    (704, "WSetEna"): 0,
    (704, "WSetMod"): 1,  # watts
    (704, "WSetRvrtTms"): 0,
    (124, "WChaMax"): MAX_CHARGE_W,
    (124, "WChaGra"): 100,
    (124, "WDisChaGra"): 100,
    (124, "StorCtl_Mod"): 0,
    (124, "MinRsvPct"): 5.0,
    (124, "OutWRte"): 100.0,
    (124, "InWRte"): 100.0,
    (124, "InOutWRte_WinTms"): 0,
    (124, "InOutWRte_RvrtTms"): 0,
    (124, "InOutWRte_RmpTms"): 0,
    (124, "ChaGriSet"): 0,  # PV only
    (802, "AHRtg"): CAPACITY_WH / (CELLS * 3.2),
    (802, "WHRtg"): CAPACITY_WH,
    (802, "WChaRteMax"): MAX_CHARGE_W,
    (802, "WDisChaRteMax"): MAX_DISCHARGE_W,
    (802, "SoCMax"): 100.0,
    (802, "SoCMin"): 5.0,
    (802, "SocRsvMax"): 100.0,
    (802, "SoCRsvMin"): 5.0,
    (802, "SoH"): 98.0,
    (802, "LocRemCtl"): 0,  # remote
    (802, "CtrlHb"): 0,
    (802, "AlmRst"): 0,
    (802, "Typ"): 4,  # lithium-ion
    (802, "Evt2"): 0,
    (802, "AChaMax"): MAX_CHARGE_W / (CELLS * 3.2),
    (802, "ADisChaMax"): MAX_DISCHARGE_W / (CELLS * 3.2),
    (802, "SetOp"): 1,  # connect
    (802, "SetInvState"): 3,  # inverter started
}

# Model 124 points whose write restarts the revert timer.
_RATE_POINTS = frozenset({"StorCtl_Mod", "InWRte", "OutWRte", "InOutWRte_RvrtTms"})

# SunSpec enumerations used below.
ST_SLEEPING, ST_MPPT = 2, 4
CHA_ST_EMPTY, CHA_ST_DISCHARGING, CHA_ST_CHARGING, CHA_ST_FULL, CHA_ST_HOLDING = 2, 3, 4, 5, 6
STATE_DISCONNECTED, STATE_CONNECTED = 1, 3
SET_OP_DISCONNECT = 2


class SunSpecDevice:
    """The simulated device: a register image from ``base`` and a small hybrid model.

    ``read`` raises IndexError for any address outside the image; ``write`` returns False
    for an address outside the image or a read-only register.
    """

    def __init__(self, base: int = 40000) -> None:
        """Lay out the image and publish the initial state (50 % SOC, no PV)."""
        self.base = base
        self.soc = 50.0  # %
        self.pv_w = 0.0
        self.battery_w = 0.0  # + charging, - discharging (ems convention)
        self.pv_wh = 0.0
        self.charged_wh = 0.0
        self.discharged_wh = 0.0
        self.alarms = 0  # model 802 Evt1 bits, for fault injection
        self.heartbeat = 0
        self.rates_age_s = 0.0  # since a client last wrote the 124 storage controls
        self.wset_age_s = 0.0  # since a client last wrote the 704 active power setpoint
        self.image = SunSpecImage(MODEL_IDS, base)
        self.models = [tuple(ref) for ref in self.image.models]  # (id, address, length)
        for (model_id, name), exponent in SCALE_FACTORS.items():
            self._set(model_id, name, exponent)
        for (model_id, name), value in STATIC.items():
            self._set(model_id, name, value)
        self._render()

    # --- register access ---------------------------------------------------------------------

    @property
    def end(self) -> int:
        """First address after the image."""
        return self.image.end

    def read(self, address: int, count: int) -> list[int]:
        """Return ``count`` holding registers; raise IndexError outside the image."""
        return self.image.read(address, count)

    def writable(self, address: int, count: int) -> bool:
        """Tell whether every register of the range belongs to a writable point."""
        return self.image.writable(address, count)

    def write(self, address: int, words: list[int]) -> bool:
        """Store a client write; False for an unmapped or read-only register (nothing stored)."""
        try:
            written = self.image.decode_write(address, words)
        except ImageError:
            return False
        self.image.store(address, words)
        if any(model == 124 and name in _RATE_POINTS for model, name in written):
            self.rates_age_s = 0.0
        if any(model == 704 and name.startswith("WSet") for model, name in written):
            self.wset_age_s = 0.0
        if self._get(802, "AlmRst"):  # any write to AlmRst clears the alarms
            self.alarms = 0
            self._set(802, "AlmRst", 0)
        return True

    def _set(self, model_id: int, name: str, value: Any) -> None:
        self.image.set(model_id, name, value)

    def _get(self, model_id: int, name: str) -> Any:
        return self.image.get(model_id, name)

    def value(self, model_id: int, name: str) -> Any:
        """Read a point by SunSpec model and name, scaled (tests and the CLI)."""
        return self._get(model_id, name)

    # --- the device model --------------------------------------------------------------------

    def limits(self) -> tuple[float, float]:
        """Battery power range [low, high] in W (+ charging) from the 704, 124 and 802 controls.

        An enabled 704 active power setpoint in watts (WSet, + injection: discharging) fixes
        the power; otherwise 124's rates bound it.
        """
        charge_max = _at_most(self._get(124, "WChaMax"), MAX_CHARGE_W)
        wset = self._get(704, "WSet")
        if self._get(704, "WSetEna") == 1 and self._get(704, "WSetMod") == 1 and wset is not None:
            discharge_max = _at_most(self._get(802, "WDisChaRteMax"), MAX_DISCHARGE_W)
            power = max(-discharge_max, min(charge_max, -float(wset)))
            return power, power
        discharge_max = _at_most(self._get(802, "WDisChaRteMax"), MAX_DISCHARGE_W)
        mode = self._get(124, "StorCtl_Mod") or 0
        high, low = charge_max, -discharge_max
        if mode & 1 and (rate := self._get(124, "InWRte")) is not None:
            high = charge_max * max(-100.0, min(100.0, rate)) / 100.0
        if mode & 2 and (rate := self._get(124, "OutWRte")) is not None:
            # Both rates are % of WChaMax (the model's unit "% WChaMax"), within the 802 maximum.
            low = max(-discharge_max, -charge_max * max(-100.0, min(100.0, rate)) / 100.0)
        return min(low, high), high

    def soc_window(self) -> tuple[float, float]:
        """SOC range [min, max] in % the battery stays in (802 limits and reserves, 124 reserve)."""
        lows = (self._get(802, "SoCMin"), self._get(802, "SoCRsvMin"), self._get(124, "MinRsvPct"))
        highs = (self._get(802, "SoCMax"), self._get(802, "SocRsvMax"))
        low = max((v for v in lows if v is not None), default=0.0)
        high = min((v for v in highs if v is not None), default=100.0)
        return low, high

    def tick(self, dt_s: float, pv_fraction: float) -> None:
        """Advance the model by ``dt_s`` seconds with PV at ``pv_fraction`` of its rating."""
        hours = max(0.0, dt_s) / 3600.0
        self._revert_rates(max(0.0, dt_s))
        self.pv_w = max(0.0, min(1.0, pv_fraction)) * PV_RATED_W
        low, high = self.limits()
        power = max(low, min(high, self.pv_w))  # charge from the PV output
        connected = self._get(802, "SetOp") != SET_OP_DISCONNECT
        soc_min, soc_max = self.soc_window()
        if not connected:
            power = 0.0
        elif power > 0:  # stop at the SOC limit, within this step too
            room_wh = max(0.0, soc_max - self.soc) / 100.0 * CAPACITY_WH
            power = min(power, room_wh / EFFICIENCY / hours) if hours else power
        elif power < 0:
            left_wh = max(0.0, self.soc - soc_min) / 100.0 * CAPACITY_WH
            power = max(power, -left_wh * EFFICIENCY / hours) if hours else power
        if power > 0:
            self.charged_wh += power * hours
            soc = self.soc + power * hours * EFFICIENCY / CAPACITY_WH * 100.0
            self.soc = min(soc, max(soc_max, self.soc))  # no rounding past the limit
        elif power < 0:
            self.discharged_wh -= power * hours
            soc = self.soc + power * hours / EFFICIENCY / CAPACITY_WH * 100.0
            self.soc = max(soc, min(soc_min, self.soc))
        self.soc = max(0.0, min(100.0, self.soc))
        self.battery_w = power + 0.0  # no -0.0
        self.pv_wh += self.pv_w * hours
        self.heartbeat = (self.heartbeat + 1) & 0xFFFF
        self._render(connected)

    def _revert_rates(self, dt_s: float) -> None:
        """Revert the 124 controls (the 704 setpoint) their revert time after the last write."""
        self.rates_age_s += dt_s
        self.wset_age_s += dt_s
        revert = self._get(124, "InOutWRte_RvrtTms") or 0
        if revert > 0 and self._get(124, "StorCtl_Mod") and self.rates_age_s >= revert:
            self._set(124, "StorCtl_Mod", 0)
        revert = self._get(704, "WSetRvrtTms") or 0
        if revert > 0 and self._get(704, "WSetEna") and self.wset_age_s >= revert:
            self._set(704, "WSetEna", 0)

    def _render(self, connected: bool = True) -> None:
        """Publish the state in the register image."""
        pv = self.pv_w
        ac_a = pv / (3 * AC_VOLTAGE)
        self._set(103, "A", 3 * ac_a)
        for phase in ("A", "B", "C"):
            self._set(103, f"Aph{phase}", ac_a)
            self._set(103, f"PhVph{phase}", AC_VOLTAGE)
        for pair in ("AB", "BC", "CA"):
            self._set(103, f"PPVph{pair}", AC_VOLTAGE * 3**0.5)
        self._set(103, "W", pv)
        self._set(103, "Hz", 50.0)
        self._set(103, "WH", self.pv_wh)
        self._set(103, "DCV", DC_VOLTAGE if pv > 0 else 0.0)
        self._set(103, "DCA", pv / DC_VOLTAGE)
        self._set(103, "DCW", pv)
        self._set(103, "TmpCab", 30.0 + 10.0 * pv / PV_RATED_W)
        self._set(103, "St", ST_MPPT if pv > 0 else ST_SLEEPING)

        soc_min, soc_max = self.soc_window()
        cell_v = 3.0 + 0.4 * self.soc / 100.0
        voltage = CELLS * cell_v
        current = self.battery_w / voltage
        if self.battery_w > 0:
            status = CHA_ST_CHARGING
        elif self.battery_w < 0:
            status = CHA_ST_DISCHARGING
        elif self.soc >= soc_max - 0.05:
            status = CHA_ST_FULL
        elif self.soc <= soc_min + 0.05:
            status = CHA_ST_EMPTY
        else:
            status = CHA_ST_HOLDING
        self._set(124, "ChaState", self.soc)
        self._set(124, "StorAval", self.soc / 100.0 * CAPACITY_WH / voltage)
        self._set(124, "InBatV", voltage)
        self._set(124, "ChaSt", status)

        self._set(802, "SoC", self.soc)
        self._set(802, "NCyc", int(self.discharged_wh // CAPACITY_WH))
        self._set(802, "ChaSt", status)
        self._set(802, "Hb", self.heartbeat)
        self._set(802, "State", STATE_CONNECTED if connected else STATE_DISCONNECTED)
        self._set(802, "Evt1", self.alarms)
        self._set(802, "V", voltage)
        self._set(802, "VMax", CELLS * 3.65)
        self._set(802, "VMin", CELLS * 2.5)
        self._set(802, "CellVMax", cell_v + 0.01)
        self._set(802, "CellVMin", cell_v - 0.01)
        self._set(802, "CellVAvg", cell_v)
        # SunSpec battery current and power are + discharging.
        self._set(802, "A", -current)
        self._set(802, "W", -self.battery_w)


def _at_most(value: float | None, limit: float) -> float:
    """A published limit, capped by the hardware's (None: the hardware's)."""
    return limit if value is None else max(0.0, min(float(value), limit))
