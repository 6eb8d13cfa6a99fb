"""End-to-end tests: real processes (hass, simulator)."""
