"""What a running site entry owns: built whole in ``async_setup_entry``, nothing filled in later."""

from __future__ import annotations

from dataclasses import dataclass, field

from homeassistant.config_entries import ConfigEntry

from .controller import SiteController
from .coordinator import EmsDeviceCoordinator
from .core.transport import ModbusTransport
from .grid import GridSupportRunner
from .plan import PlanManager
from .scada import ScadaServer
from .site import SiteAggregator

type EmsConfigEntry = ConfigEntry[EmsRuntimeData]


@dataclass(kw_only=True)
class EmsRuntimeData:
    """Everything a running site entry owns."""

    site: SiteAggregator
    plan: PlanManager
    controller: SiteController
    grid: GridSupportRunner
    transports: dict[str, ModbusTransport] = field(default_factory=dict)
    scada: ScadaServer | None = None  # the Modbus server for a SCADA, when the option is on

    @property
    def devices(self) -> dict[str, EmsDeviceCoordinator]:
        """Device coordinators by subentry id."""
        return self.site.devices
