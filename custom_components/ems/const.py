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

# The site controller's step; also the longest time a battery's ramp may count since its last
# command (a held setpoint may move by ramp × this at the next step, not by ramp × hours).
CONTROL_INTERVAL_S: Final = 5.0

# Plans and appliances (issue 5)
SUBENTRY_APPLIANCE: Final = "appliance"
APPLIANCE_KINDS: Final = ("cycle", "water_heater", "ev", "pilot_wire_heater", "thermal")
ENERGY_KINDS: Final = ("water_heater", "ev")  # loads with an "energy needed"
DEADLINE_KINDS: Final = ("cycle", "water_heater", "ev")  # loads with a "finish by"
CONF_APPLIANCE_TYPE: Final = "appliance_type"
CONF_SWITCH_ENTITY: Final = "switch_entity"  # switch / input_boolean, or select for pilot wire
CONF_POWER_W: Final = "power_w"
CONF_DURATION_MIN: Final = "duration_minutes"
CONF_PROFILE_W: Final = "profile_w"  # "400, 2000, 2000, 150": W per CONF_PROFILE_STEP_MIN
CONF_PROFILE_STEP_MIN: Final = "profile_step_minutes"
CONF_ENERGY_WH: Final = "energy_wh"  # default energy needed per deadline
CONF_MIN_POWER_W: Final = "min_power_w"
CONF_MAX_POWER_W: Final = "max_power_w"
CONF_ALLOW_PARTIAL: Final = "allow_partial"
CONF_WINDOWS: Final = "windows"  # allowed hours, "22:00-06:00, 12:00-14:00"
CONF_FINISH_BY: Final = "finish_by"  # default finish-by time of day, "07:00:00"
CONF_COMFORT_POWER_W: Final = "comfort_power_w"
CONF_ECO_POWER_W: Final = "eco_power_w"
CONF_COMFORT_RATIO: Final = "comfort_ratio"  # percent of the period's steps in comfort
CONF_COMFORT_OPTION: Final = "comfort_option"
CONF_ECO_OPTION: Final = "eco_option"
CONF_COP: Final = "cop"
CONF_HEAT_LOSS: Final = "heat_loss_w_per_k"
CONF_THERMAL_CAPACITY: Final = "thermal_capacity_wh_per_k"
CONF_T_MIN: Final = "t_min_c"
CONF_T_MAX: Final = "t_max_c"
CONF_INDOOR_TEMP_ENTITY: Final = "indoor_temperature_entity"
CONF_OUTDOOR_TEMP_ENTITY: Final = "outdoor_temperature_entity"
# Site options: tariffs and planning
CONF_PEAK_PRICE: Final = "peak_price"  # €/kWh
CONF_OFFPEAK_PRICE: Final = "offpeak_price"  # €/kWh
CONF_OFFPEAK_HOURS: Final = "offpeak_hours"  # "22:00-06:00"
CONF_EXPORT_PRICE: Final = "export_price"  # €/kWh
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_WEATHER_ENTITY: Final = "weather_entity"
CONF_OBJECTIVE: Final = "objective"
OBJECTIVES: Final = ("cost", "import", "self_consumption")
DEFAULT_IMPORT_PRICE: Final = 0.25  # €/kWh when no tariff is configured
PLAN_STEP_MINUTES: Final = 15
PLAN_HORIZON_STEPS: Final = 96
PLAN_MAX_AGE_S: Final = 3600  # a plan received longer ago than this is stale
PLAN_STORE_VERSION: Final = 1
EVENT_RUN_REQUESTED: Final = "ems_run_requested"
SERVICE_GET_PROBLEM: Final = "get_problem"
SERVICE_SET_PLAN: Final = "set_plan"
SERVICE_REQUEST_RUN: Final = "request_run"
SERVICE_SET_APPLIANCE_REQUEST: Final = "set_appliance_request"
# Site option: PV peak power, for the add-on's clear-sky PV estimate without history
CONF_PV_PEAK_W: Final = "pv_peak_w"  # W
# ... and the panels' orientation, for the same physical PV model
CONF_PV_TILT_DEG: Final = "pv_tilt_deg"  # 0 flat … 90 vertical
CONF_PV_AZIMUTH_DEG: Final = "pv_azimuth_deg"  # 90 east, 180 south, 270 west
# Site option: the household's yearly consumption, scaling the add-on's typical load profile
# while there is under a day of load history
CONF_ANNUAL_CONSUMPTION_KWH: Final = "annual_consumption_kwh"  # kWh a year
# Site option: PV forecast sensors with a dated series (Solcast's detailedForecast), which the
# add-on uses before its own PV forecast wherever they cover the plan
CONF_PV_FORECAST_ENTITIES: Final = "pv_forecast_entities"

# The site's Modbus server for a SCADA (site options, section "modbus_server"; off by default)
CONF_SERVER: Final = "modbus_server"
CONF_SERVER_ENABLED: Final = "enabled"
CONF_SERVER_PORT: Final = "port"
CONF_SERVER_UNIT_ID: Final = "unit_id"
CONF_SERVER_WRITABLE: Final = "writable"
CONF_SERVER_ALLOWED: Final = "allowed_clients"  # "192.168.1.10, 10.0.0.0/24"; empty: any
CONF_SERVER_HEARTBEAT_S: Final = "heartbeat_s"  # watchdog; 0: off
CONF_SERVER_FALLBACK_MODE: Final = "fallback_mode"
DEFAULT_SERVER_PORT: Final = 5502  # 502 needs privileges on most hosts; SCADAs set the port
DEFAULT_SERVER_UNIT_ID: Final = 1
DEFAULT_SERVER_HEARTBEAT_S: Final = 60
DEFAULT_SERVER_FALLBACK_MODE: Final = "self_consumption"
