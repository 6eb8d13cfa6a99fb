"""Community planning: neighbours plan together over MQTT (rounds, protocol, coordinator)."""
