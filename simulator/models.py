"""Physics of the simulated devices: battery, PV inverter, grid meter and relay board.

Every model keeps its own state, advances it with ``update(dt)`` (dt in simulated seconds; 0
only recomputes instantaneous values after a command) and writes its registers by point key
with ``publish()``. Commands are read back from the unit's writable registers.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
import math
import random

from .data import HouseData
from .datastore import Unit
from .grid import GridScript
from .vendors import GenericBess, VendorControl

HOUR_S = 3600.0


def _interp(table: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear interpolation in a sorted (x, y) table, clamped at both ends."""
    xs = [p[0] for p in table]
    if x <= xs[0]:
        return table[0][1]
    if x >= xs[-1]:
        return table[-1][1]
    i = bisect_right(xs, x)
    (x0, y0), (x1, y1) = table[i - 1], table[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _relax(value: float, target: float, dt: float, tau: float) -> float:
    """First-order lag: move value towards target with time constant tau."""
    return target + (value - target) * math.exp(-dt / tau)


# --- battery (BESS) -------------------------------------------------------------------------

# Open-circuit voltage of one LFP cell against SOC (%): flat plateau, steep ends.
LFP_OCV: tuple[tuple[float, float], ...] = (
    (0.0, 2.90),
    (5.0, 3.10),
    (10.0, 3.20),
    (20.0, 3.25),
    (30.0, 3.27),
    (40.0, 3.29),
    (50.0, 3.30),
    (60.0, 3.31),
    (70.0, 3.32),
    (80.0, 3.33),
    (90.0, 3.35),
    (95.0, 3.38),
    (100.0, 3.45),
)


@dataclass(slots=True)
class BatteryParams:
    """Ratings and constants of the simulated BESS."""

    capacity_wh: float = 10_000.0
    max_charge_w: float = 5_000.0
    max_discharge_w: float = 5_000.0
    max_apparent_va: float = 6_000.0  # the inverter: P² + Q² ≤ S², active power first
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    cells: int = 16
    pack_resistance_ohm: float = 0.010
    thermal_capacity_j_per_k: float = 40_000.0
    cooling_w_per_k: float = 4.0
    ambient_c: float = 25.0
    soh_pct: float = 98.5
    serial: str = "SIMBESS0001"
    # BMS thresholds
    cell_over_voltage: float = 3.65
    cell_under_voltage: float = 2.80
    over_temperature_c: float = 55.0
    stop_temperature_c: float = 60.0
    under_temperature_c: float = 0.0
    over_current_a: float = 120.0


class Battery:
    """A 10 kWh LFP BESS: follows its command within power, register and SOC limits.

    How it is commanded is its vendor's (``vendors.py``): the generic BESS's setpoint register
    by default, else the mode registers of the profile its unit is laid out by.
    """

    def __init__(
        self,
        unit: Unit,
        params: BatteryParams | None = None,
        soc: float = 50.0,
        control: VendorControl | None = None,
    ) -> None:
        self.unit = unit
        self.control = control or GenericBess(unit, lambda: 0.0, lambda: 0.0)
        self.p = params or BatteryParams()
        self.soc = soc  # %
        self.temperature = self.p.ambient_c  # °C
        self.ambient_c = self.p.ambient_c
        self.fault = False  # an internal fault: the BMS opens its contactor
        self.power = 0.0  # W, AC side, + charging (the actual power, not the setpoint)
        self.reactive = 0.0  # var, + injection (over-excited: raises the voltage)
        self.voltage = 0.0
        self.current = 0.0
        self.cell_min = 0.0
        self.cell_max = 0.0
        self.energy_charged_kwh = 0.0  # AC side
        self.energy_discharged_kwh = 0.0
        self._set_known(
            {
                "setpoint": 0,
                "reactive_setpoint": 0,
                "charge_limit": self.p.max_charge_w,
                "discharge_limit": self.p.max_discharge_w,
                "serial": self.p.serial,
            }
        )
        self.update(0.0)

    def _set_known(self, values: dict[str, object]) -> None:
        """Publish the values the unit's profile has (a vendor's map has fewer points)."""
        self.unit.set_many({k: v for k, v in values.items() if k in self.unit.profile})

    def _register(self, key: str, default: float) -> float:
        """A client-written register, or ``default`` when the profile has no such point."""
        return float(self.unit.model_value(key)) if key in self.unit.profile else default

    @property
    def setpoint(self) -> float:
        """Commanded power (W, + charging): the remote command, else the device's own logic."""
        return self.control.command_w()

    @property
    def energy_wh(self) -> float:
        """Stored energy (Wh)."""
        return self.soc / 100.0 * self.p.capacity_wh

    def allowed_power(self) -> float:
        """The power the BMS lets through now for the current setpoint."""
        setpoint = self.setpoint
        if self.fault or self.temperature >= self.p.stop_temperature_c:
            return 0.0
        if setpoint > 0:
            limit = min(self.p.max_charge_w, self._register("charge_limit", self.p.max_charge_w))
            if self.soc >= 100.0 or self.temperature < self.p.under_temperature_c:
                limit = 0.0
            return min(setpoint, limit)
        own_limit = self._register("discharge_limit", self.p.max_discharge_w)
        limit = min(self.p.max_discharge_w, own_limit)
        if self.soc <= 0.0:
            limit = 0.0
        return max(setpoint, -limit)

    def _dc_power(self, ac_w: float) -> float:
        """Battery-side power for an AC power (W, + into the cells)."""
        if ac_w >= 0:
            return ac_w * self.p.charge_efficiency
        return ac_w / self.p.discharge_efficiency

    def _electrical(self, ac_w: float) -> tuple[float, float, float, float]:
        """Pack voltage, current and min/max cell voltage at this power and the current SOC."""
        ocv = self.p.cells * _interp(LFP_OCV, self.soc)
        resistance = self.p.pack_resistance_ohm
        dc_w = self._dc_power(ac_w)
        # V = OCV + R·I and P = V·I  →  R·I² + OCV·I − P = 0
        disc = ocv * ocv + 4.0 * resistance * dc_w
        current = (-ocv + math.sqrt(max(disc, 0.0))) / (2.0 * resistance)
        voltage = ocv + resistance * current
        mean = voltage / self.p.cells
        spread = 0.004 + 0.03 * max(0.0, (10.0 - self.soc) / 10.0)
        spread += 0.03 * max(0.0, (self.soc - 90.0) / 10.0)
        return voltage, current, mean - spread / 2.0, mean + spread / 2.0

    def update(self, dt: float) -> None:
        """Advance SOC, counters and temperature by dt seconds at the allowed power."""
        self.control.tick()
        power = self.allowed_power()
        heat_j = 0.0
        if dt > 0 and power != 0.0:
            capacity_j = self.p.capacity_wh * 3600.0
            dc_w = self._dc_power(power)
            if dc_w > 0:
                room_j = (100.0 - self.soc) / 100.0 * capacity_j
                used = min(dt, room_j / dc_w)
            else:
                used = min(dt, (self.soc / 100.0 * capacity_j) / -dc_w)
            self.soc += dc_w * used / capacity_j * 100.0
            if used < dt:  # the BMS stopped at an end
                self.soc = 100.0 if dc_w > 0 else 0.0
            self.soc = min(100.0, max(0.0, self.soc))
            if power > 0:
                self.energy_charged_kwh += power * used / 3.6e6
            else:
                self.energy_discharged_kwh += -power * used / 3.6e6
            current = self._electrical(power)[1]
            heat_j = current * current * self.p.pack_resistance_ohm * used
        if dt > 0:
            loss_j = self.p.cooling_w_per_k * (self.temperature - self.ambient_c) * dt
            self.temperature += (heat_j - loss_j) / self.p.thermal_capacity_j_per_k
        self.power = self.allowed_power()
        self.reactive = self.allowed_reactive()
        self.voltage, self.current, self.cell_min, self.cell_max = self._electrical(self.power)

    def allowed_reactive(self) -> float:
        """The reactive power the inverter gives for its setpoint: what S leaves after P."""
        if self.fault or self.temperature >= self.p.stop_temperature_c:
            return 0.0
        setpoint = self._register("reactive_setpoint", 0.0)
        room = math.sqrt(max(0.0, self.p.max_apparent_va**2 - self.power**2))
        return max(-room, min(room, setpoint))

    def publish(self) -> None:
        """Write the battery's registers."""
        p = self.p
        self.control.publish()
        self._set_known(
            {
                "soc": self.soc,
                "soh": p.soh_pct,
                "voltage": self.voltage,
                "current": self.current,
                "power": round(self.power),
                "reactive_power": round(self.reactive),
                "max_apparent_power": p.max_apparent_va,
                "temperature": self.temperature,
                "cell_voltage_min": self.cell_min,
                "cell_voltage_max": self.cell_max,
                "alarm_over_voltage": self.cell_max > p.cell_over_voltage,
                "alarm_under_voltage": self.cell_min < p.cell_under_voltage,
                "alarm_over_temperature": self.temperature > p.over_temperature_c,
                "alarm_under_temperature": self.temperature < p.under_temperature_c,
                "alarm_over_current": abs(self.current) > p.over_current_a,
                "alarm_fault": self.fault,
                "energy_charged": self.energy_charged_kwh,
                "energy_discharged": self.energy_discharged_kwh,
                "capacity": p.capacity_wh,
                "max_charge_power": p.max_charge_w,
                "max_discharge_power": p.max_discharge_w,
            }
        )


# --- PV inverter ----------------------------------------------------------------------------

PV_PEAK_W = 4_500.0  # peak of the house's PV array in the data (~4.5 kWp)


@dataclass(slots=True)
class PvParams:
    """Ratings and constants of the simulated PV inverter."""

    rating_w: float = 6_000.0
    efficiency: float = 0.97
    ambient_c: float = 20.0
    thermal_tau_s: float = 600.0
    serial: str = "SIMPV0001"


class PvInverter:
    """A 6 kW PV inverter whose available power follows the household's measured PV series."""

    def __init__(
        self,
        unit: Unit,
        data: HouseData,
        rng: random.Random,
        params: PvParams | None = None,
    ) -> None:
        self.unit = unit
        self.data = data
        self.rng = rng
        self.p = params or PvParams()
        self.scale = 1.0  # multiplies the data (e.g. 0 for a dark sky in a test)
        self.grid_available = True
        self.fault = False
        self.available = 0.0  # W the array could give now
        self.power = 0.0  # W actually fed in
        self.energy_kwh = 0.0
        self.temperature = self.p.ambient_c
        self.dc_voltage = 0.0
        self.dc_current = 0.0
        self.ac_voltage = 230.0
        self.frequency = 50.0
        unit.set_many({"power_limit": 100, "serial": self.p.serial})

    @property
    def power_limit_pct(self) -> float:
        """Commanded limit in % of the rating."""
        return float(self.unit.model_value("power_limit"))

    @property
    def pv_fraction(self) -> float:
        """Available power as a fraction of the array's peak (0..1)."""
        return min(1.0, max(0.0, self.available / PV_PEAK_W))

    def update(self, dt: float, t: float) -> None:
        """Advance to epoch time t (dt seconds later)."""
        self.available = max(0.0, self.data.pv_w.at(t) * self.scale)
        cap = self.p.rating_w * min(100.0, max(0.0, self.power_limit_pct)) / 100.0
        online = self.grid_available and not self.fault
        self.power = min(self.available, cap, self.p.rating_w) if online else 0.0
        if dt > 0:
            self.energy_kwh += self.power * dt / 3.6e6
            target = self.p.ambient_c + 25.0 * self.power / self.p.rating_w
            self.temperature = _relax(self.temperature, target, dt, self.p.thermal_tau_s)
        if self.available < 1.0 or not online:
            self.dc_voltage = 0.0 if self.available < 1.0 else 380.0
            self.dc_current = 0.0
        else:
            vmp = 330.0 + 60.0 * min(1.0, self.available / 600.0)
            vmp -= 0.35 * (self.temperature - 25.0)
            # curtailed: the tracker moves off the maximum power point, towards open circuit
            vmp += 40.0 * (1.0 - self.power / self.available)
            self.dc_voltage = vmp
            self.dc_current = self.power / self.p.efficiency / vmp
        if self.grid_available:
            self.ac_voltage = 231.0 + 0.0004 * self.power + self.rng.gauss(0.0, 0.3)
            self.frequency = 50.0 + self.rng.gauss(0.0, 0.01)
        else:
            self.ac_voltage = self.frequency = 0.0

    def publish(self) -> None:
        """Write the inverter's registers."""
        self.unit.set_many(
            {
                "power": round(self.power),
                "energy_total": self.energy_kwh,
                "dc_voltage": self.dc_voltage,
                "dc_current": self.dc_current,
                "ac_voltage": self.ac_voltage,
                "frequency": self.frequency,
                "temperature": self.temperature,
                "alarm_fault": self.fault,
            }
        )


# --- grid meter -----------------------------------------------------------------------------

LOAD_SHARES = (0.45, 0.30, 0.25)  # how the house load spreads over L1, L2, L3


@dataclass(slots=True)
class MeterParams:
    """Constants of the simulated three-phase meter."""

    nominal_v: float = 231.0
    impedance_v_per_w: float = 0.0005  # voltage drop per W drawn on a phase (R / V)
    reactance_v_per_var: float = 0.00025  # voltage drop per var drawn on a phase (X / V)
    voltage_noise_v: float = 0.3
    frequency_noise_hz: float = 0.01
    serial: str = "SIMMETER0001"


class GridMeter:
    """The grid connection point: net = house load + battery − PV (+ import, − export)."""

    def __init__(
        self,
        unit: Unit,
        data: HouseData,
        *,
        battery: Battery,
        pv: PvInverter,
        rng: random.Random,
        params: MeterParams | None = None,
        grid: GridScript | None = None,
    ) -> None:
        self.unit = unit
        self.grid = grid or GridScript()
        self.data = data
        self.battery = battery
        self.pv = pv
        self.rng = rng
        self.p = params or MeterParams()
        self.grid_available = True
        self.load_scale = 1.0
        self.extra_load_w = 0.0  # added to the house load (tests, demo appliances)
        self.load = 0.0
        self.power = 0.0
        self.phase_power = [0.0, 0.0, 0.0]
        self.voltages = [0.0, 0.0, 0.0]
        self.currents = [0.0, 0.0, 0.0]
        self.frequency = 0.0
        self.energy_import_kwh = 0.0
        self.energy_export_kwh = 0.0
        unit.set("serial", self.p.serial)

    def update(self, dt: float, t: float) -> None:
        """Recompute the balance at epoch time t and integrate the counters over dt."""
        self.load = max(0.0, self.data.load_w.at(t) * self.load_scale + self.extra_load_w)
        if not self.grid_available:
            self.power = 0.0
            self.phase_power = [0.0, 0.0, 0.0]
            self.voltages = [0.0, 0.0, 0.0]
            self.currents = [0.0, 0.0, 0.0]
            self.frequency = 0.0
            return
        inverters = self.battery.power - self.pv.power  # three-phase: split evenly
        self.phase_power = [self.load * share + inverters / 3.0 for share in LOAD_SHARES]
        self.power = sum(self.phase_power)
        # The feeder: the source voltage (scripted offset) less R·P + X·Q drawn on each phase;
        # the battery's injected reactive power is drawn negatively (it raises the voltage).
        source = self.p.nominal_v + self.grid.value("voltage", t)
        q_phase = -self.battery.reactive / 3.0
        self.voltages = [
            source
            - self.p.impedance_v_per_w * p
            - self.p.reactance_v_per_var * q_phase
            + self.rng.gauss(0.0, self.p.voltage_noise_v)
            for p in self.phase_power
        ]
        self.currents = [p / v for p, v in zip(self.phase_power, self.voltages, strict=True)]
        noise = self.rng.gauss(0.0, self.p.frequency_noise_hz)
        self.frequency = self.grid.value("frequency", t) + noise
        if dt > 0:
            self.energy_import_kwh += max(self.power, 0.0) * dt / 3.6e6
            self.energy_export_kwh += max(-self.power, 0.0) * dt / 3.6e6

    def publish(self) -> None:
        """Write the meter's registers."""
        values: dict[str, float] = {
            "power": self.power,
            "frequency": self.frequency,
            "energy_import": self.energy_import_kwh,
            "energy_export": self.energy_export_kwh,
        }
        for i in range(3):
            values[f"voltage_l{i + 1}"] = self.voltages[i]
            values[f"current_l{i + 1}"] = self.currents[i]
            values[f"power_l{i + 1}"] = self.phase_power[i]
        self.unit.set_many(values)


# --- relay board (battery charge controller) ------------------------------------------------

SHUNT_OHM = 0.1
SHUNT_MAX_MV = 320.0  # INA219 full scale (PGA /8)


@dataclass(slots=True)
class RelayBoardParams:
    """Constants of the charge controller and its 12 V lead-acid backup battery."""

    capacity_ah: float = 40.0
    internal_ohm: float = 0.02
    polarization_tau_s: float = 120.0
    charge_efficiency: float = 0.9  # coulombic
    absorption_v: float = 14.4
    float_v: float = 13.8
    charger_max_a: float = 3.0
    tail_current_a: float = 0.4
    load_ohm: float = 8.4  # ≈ 1.5 A at 12.6 V on R3
    aux_a: float = 0.2  # R4
    adapter_v: float = 19.0  # mains adapter output (ch4)
    adapter_ohm: float = 0.1
    charger_efficiency: float = 0.9
    controller_a: float = 0.25  # the controller's own draw on the adapter
    serial: str = "SIMRELAY0001"


class RelayBoard:
    """Relays R1 mains, R2 charge circuit, R3 load, R4 aux, and a 12 V lead-acid battery."""

    def __init__(
        self, unit: Unit, params: RelayBoardParams | None = None, soc: float = 0.8
    ) -> None:
        self.unit = unit
        self.p = params or RelayBoardParams()
        self.soc = soc  # 0..1
        self.v_pol = 0.0  # polarisation (surface charge) voltage, V
        self.stage = "bulk"  # charger stage: bulk, absorption, float
        self.grid_available = True
        self.channels: dict[int, tuple[float, float]] = {}  # channel → (bus V, current A)
        self.battery_current = 0.0
        unit.set_many({"relay_1": True, "relay_2": True, "relay_3": False, "relay_4": False})
        unit.set("serial", self.p.serial)
        self.update(0.0)

    def relay(self, n: int) -> bool:
        """State of relay n (1..4) as commanded by the coil."""
        return bool(self.unit.model_value(f"relay_{n}"))

    @property
    def mains_present(self) -> bool:
        """Mains voltage upstream of R1."""
        return self.grid_available

    @property
    def ocv(self) -> float:
        """Open-circuit voltage of the 12 V battery at its SOC."""
        return 11.9 + 0.9 * self.soc

    def _r_pol(self, charging: bool) -> float:
        """Polarisation resistance: small on discharge, rising steeply towards full charge."""
        if not charging:
            return 0.05
        return 0.15 + 0.6 * self.soc**6 + 4.0 * max(0.0, self.soc - 0.95) / 0.05

    def _solve(
        self, dt: float, relays: tuple[bool, bool, bool, bool]
    ) -> tuple[float, float, float, float, float]:
        """Battery current, charger current, load and aux currents, and the new v_pol."""
        p = self.p
        r1, r2, r3, r4 = relays
        alpha = 1.0 - math.exp(-dt / p.polarization_tau_s) if dt > 0 else 0.0
        emf = self.ocv + self.v_pol
        alive = self.soc > 0.0  # the low-voltage disconnect opens at empty
        i_load = emf / p.load_ohm if r3 and alive else 0.0
        i_aux = p.aux_a if r4 and alive else 0.0
        loads = i_load + i_aux
        charging = self.grid_available and r1 and r2
        if charging:
            target = p.float_v if self.stage == "float" else p.absorption_v
            r_pol = self._r_pol(True)
            # constant voltage, solved implicitly for the polarisation (stiff otherwise)
            v_new = (self.v_pol + alpha * r_pol * (target - self.ocv) / p.internal_ohm) / (
                1.0 + alpha + alpha * r_pol / p.internal_ohm
            )
            i_bat = (target - self.ocv - v_new) / p.internal_ohm
            i_charger = i_bat + loads
            if 0.0 <= i_charger <= p.charger_max_a:
                return i_bat, i_charger, i_load, i_aux, v_new
            i_charger = min(max(i_charger, 0.0), p.charger_max_a)
            i_bat = i_charger - loads
        else:
            i_charger = 0.0
            i_bat = -loads
        v_new = self.v_pol + alpha * (i_bat * self._r_pol(i_bat > 0) - self.v_pol)
        return i_bat, i_charger, i_load, i_aux, v_new

    def update(self, dt: float) -> None:
        """Advance the battery by dt seconds and recompute every channel."""
        p = self.p
        relays = (self.relay(1), self.relay(2), self.relay(3), self.relay(4))
        powered = self.grid_available and relays[0]
        connected = powered and relays[1]
        if dt > 0:
            i_bat, i_charger, _, _, v_new = self._solve(dt, relays)
            eff = p.charge_efficiency if i_bat > 0 else 1.0
            self.soc = min(1.0, max(0.0, self.soc + i_bat * eff * dt / (p.capacity_ah * 3600.0)))
            self.v_pol = v_new
            if not connected:
                if self.soc < 0.95:
                    self.stage = "bulk"
            elif self.stage == "bulk" and i_charger < p.charger_max_a - 1e-6:
                self.stage = "absorption"
            elif self.stage == "absorption" and i_bat < p.tail_current_a:
                self.stage = "float"
        i_bat, i_charger, i_load, _i_aux, _ = self._solve(0.0, relays)
        self.battery_current = i_bat
        v_bus = self.ocv + self.v_pol + i_bat * p.internal_ohm
        if connected:
            ch2 = (v_bus, i_charger)
        elif powered:  # charger idles at its set voltage
            ch2 = (p.float_v if self.stage == "float" else p.absorption_v, 0.0)
        else:
            ch2 = (0.0, 0.0)
        ch3 = (v_bus - 0.05 * i_load, i_load) if i_load > 0 else (0.0, 0.0)
        if powered:
            i_in = ch2[0] * ch2[1] / (p.charger_efficiency * p.adapter_v) + p.controller_a
            ch4 = (p.adapter_v - p.adapter_ohm * i_in, i_in)
        else:
            ch4 = (0.0, 0.0)
        self.channels = {1: (v_bus, i_bat), 2: ch2, 3: ch3, 4: ch4}

    def publish(self) -> None:
        """Write the coils' effects: mains input and the four INA219 channels."""
        values: dict[str, float | bool] = {"mains_present": self.mains_present}
        limit = SHUNT_MAX_MV / 1000.0 / SHUNT_OHM
        for n, (volts, current) in self.channels.items():
            amps = min(limit, max(-limit, current))  # the INA219 saturates
            values[f"ch{n}_bus_voltage"] = volts
            values[f"ch{n}_shunt_voltage"] = amps * SHUNT_OHM * 1000.0
            values[f"ch{n}_current"] = amps
            values[f"ch{n}_power"] = abs(volts * amps)
        self.unit.set_many(values)
