"""Constants of the ems integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "ems"

# Site entry
CONF_IMPORT_LIMIT_W: Final = "import_limit_w"
CONF_EXPORT_LIMIT_W: Final = "export_limit_w"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_CONTROL: Final = "control"  # option: subentry ids whose writes are enabled
DEFAULT_SCAN_INTERVAL: Final = 10

# Device subentries
SUBENTRY_TYPES: Final = ("battery", "pv", "meter", "relay_board")
CONF_CONNECTION: Final = "connection"
CONNECTION_TCP: Final = "tcp"
CONNECTION_RTU: Final = "rtu"
CONNECTION_ENTITIES: Final = "entities"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_UNIT_ID: Final = "unit_id"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_BYTESIZE: Final = "bytesize"
CONF_PROFILE: Final = "profile"  # a builtin profile id, or "sunspec"
CONF_SUNSPEC_BASE: Final = "sunspec_base"
CONF_SERIAL: Final = "serial"  # read from the device when the subentry is created
CONF_UID: Final = "uid"  # fixed at creation: the device identifier and entity unique-id prefix
CONF_CAPACITY_WH: Final = "capacity_wh"
CONF_MAX_CHARGE_W: Final = "max_charge_w"
CONF_MAX_DISCHARGE_W: Final = "max_discharge_w"
# Entity-backed devices
CONF_POWER_ENTITY: Final = "power_entity"
CONF_INVERT_POWER: Final = "invert_power"
CONF_SOC_ENTITY: Final = "soc_entity"
CONF_SETPOINT_ENTITY: Final = "setpoint_entity"
CONF_ENERGY_IN_ENTITY: Final = "energy_in_entity"
CONF_ENERGY_OUT_ENTITY: Final = "energy_out_entity"

PROFILE_SUNSPEC: Final = "sunspec"
SUNSPEC_BASES: Final = (40000, 0, 50000)

# Connection loss: entities go unavailable at once; a repair issue after this long.
OUTAGE_REPAIR_AFTER_S: Final = 600
BACKOFF_MAX_S: Final = 300
