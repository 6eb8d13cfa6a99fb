"""Numbers: writable setpoints and limits, created only for devices with control enabled."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .core.profile import Platform
from .descriptions import device_points, entity_category
from .entity import EmsControllerEntity, EmsDeviceEntity
from .plan_entities import async_add_plan_entities
from .runtime import EmsConfigEntry
from .validation import EmsValidationError, check_value

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the writable numbers of each device whose control the user enabled."""
    async_add_entities(EmsSettingNumber(entry, d) for d in SETTING_NUMBERS)
    async_add_plan_entities(entry, async_add_entities, "number")
    ent_reg = er.async_get(hass)
    for subentry_id, coordinator in entry.runtime_data.devices.items():
        points = [p for p in device_points(coordinator, Platform.NUMBER) if p.writable]
        # A battery's power setpoint belongs to the site controller (use the manual mode), so it
        # always passes the controller's ramp and limiter; it has no number of its own.
        owned = [p for p in points if coordinator.kind == "battery" and p.key == "setpoint"]
        if not coordinator.control_enabled or owned:
            # Gone instead of lingering as orphans (e.g. after control was switched off).
            for point in points if not coordinator.control_enabled else owned:
                unique_id = f"{coordinator.uid}_{point.key}"
                if entity_id := ent_reg.async_get_entity_id("number", DOMAIN, unique_id):
                    ent_reg.async_remove(entity_id)
            if not coordinator.control_enabled:
                continue
            points = [p for p in points if p not in owned]
        async_add_entities(
            (
                EmsNumber(
                    coordinator,
                    NumberEntityDescription(
                        key=p.key,
                        translation_key=p.key,
                        native_unit_of_measurement=p.unit,
                        device_class=NumberDeviceClass(p.device_class) if p.device_class else None,
                        native_min_value=p.min if p.min is not None else 0,
                        native_max_value=p.max if p.max is not None else 100,
                        native_step=p.step or 1,
                        mode=NumberMode.BOX,
                        entity_category=entity_category(p),
                        entity_registry_enabled_default=p.enabled_default,
                    ),
                )
                for p in points
            ),
            config_subentry_id=subentry_id,
        )


class EmsNumber(EmsDeviceEntity, NumberEntity):
    """A setpoint or limit, read back from the device."""

    @property
    def native_min_value(self) -> float:
        """The lowest value the device accepts now."""
        low = self.coordinator.write_limits(self.entity_description.key)[0]
        return super().native_min_value if low is None else low

    @property
    def native_max_value(self) -> float:
        """The highest value the device accepts now."""
        high = self.coordinator.write_limits(self.entity_description.key)[1]
        return super().native_max_value if high is None else high

    @property
    def native_value(self) -> float | None:
        """The value the device holds."""
        value = self.value
        return None if value is None else float(value)  # type: ignore[arg-type]

    async def async_set_native_value(self, value: float) -> None:
        """Write a new value: finite and in range (HA's own range check lets NaN through)."""
        value = check_value(self.entity_id, value, self.native_min_value, self.native_max_value)
        await self.coordinator.async_write(self.entity_description.key, value)


@dataclass(frozen=True, kw_only=True)
class EmsSettingNumberDescription(NumberEntityDescription):
    """A site controller setting and the attribute of ``ControlSettings`` it sets."""

    setting: str


def _watts(key: str, setting: str, low: float, high: float) -> EmsSettingNumberDescription:
    return EmsSettingNumberDescription(
        key=key,
        translation_key=key,
        setting=setting,
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=NumberDeviceClass.POWER,
        native_min_value=low,
        native_max_value=high,
        native_step=10,
        mode=NumberMode.BOX,
    )


def _percent(
    key: str, setting: str, *, low: float = 0, high: float = 100, config: bool = False
) -> EmsSettingNumberDescription:
    return EmsSettingNumberDescription(
        key=key,
        translation_key=key,
        setting=setting,
        native_unit_of_measurement=PERCENTAGE,
        device_class=NumberDeviceClass.BATTERY,
        native_min_value=low,
        native_max_value=high,
        native_step=1,
        mode=NumberMode.SLIDER,
        entity_category=EntityCategory.CONFIG if config else None,
    )


SETTING_NUMBERS: tuple[EmsSettingNumberDescription, ...] = (
    _watts("grid_target", "grid_target_w", -20000, 20000),
    _watts("peak_import_threshold", "peak_import_threshold_w", 0, 100000),
    _watts("peak_recharge_threshold", "peak_recharge_threshold_w", 0, 100000),
    _watts("export_cap", "export_cap_w", 0, 100000),
    _percent("target_soc", "target_soc_pct"),
    _percent("reserve_soc", "reserve_soc_pct"),
    _watts("manual_setpoint", "manual_setpoint_w", -100000, 100000),
    _watts("external_setpoint", "external_setpoint_w", -100000, 100000),
    # The SOC window never reaches the very ends: 5 % is a hard floor, 50 % a sane ceiling floor.
    _percent("soc_min", "soc_min_pct", low=5, high=50, config=True),
    _percent("soc_max", "soc_max_pct", low=50, high=100, config=True),
    # How fast a battery's power may grow, in every mode and after an alarm clears.
    EmsSettingNumberDescription(
        key="ramp_rate",
        translation_key="ramp_rate",
        setting="ramp_w_per_s",
        native_unit_of_measurement="W/s",
        native_min_value=10,
        native_max_value=10000,
        native_step=10,
        mode=NumberMode.BOX,
        entity_category=EntityCategory.CONFIG,
    ),
)


class EmsSettingNumber(EmsControllerEntity, RestoreNumber):
    """A setting of the site controller, restored after a restart."""

    entity_description: EmsSettingNumberDescription

    async def async_added_to_hass(self) -> None:
        """Take over the last value once, from a version that kept settings in entities."""
        await super().async_added_to_hass()
        if self.entity_description.setting in self.controller.stored:
            return  # the controller's own store is the source of truth
        last = await self.async_get_last_number_data()
        if last is not None and last.native_value is not None:
            value = min(max(last.native_value, self.native_min_value), self.native_max_value)
            with contextlib.suppress(ValueError):  # NaN restored from an old state: default
                self.controller.set_setting(self.entity_description.setting, value)

    @property
    def native_value(self) -> float:
        """The controller's current setting."""
        return float(getattr(self.controller.settings, self.entity_description.setting))

    async def async_set_native_value(self, value: float) -> None:
        """Change the setting (finite, in range); the controller uses it from its next step."""
        value = check_value(self.entity_id, value, self.native_min_value, self.native_max_value)
        try:
            self.controller.set_setting(self.entity_description.setting, value)
        except ValueError as err:  # the controller's own check (e.g. soc_min above soc_max)
            raise EmsValidationError(
                "invalid_value", field=self.entity_id, value=str(value), error=str(err)
            ) from err
