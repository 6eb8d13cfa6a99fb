"""End-to-end tests: real processes (hass, the optimizer add-on), the simulator, a browser."""
