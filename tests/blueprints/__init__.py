"""Tests of the automation blueprints in blueprints/automation/ems."""
