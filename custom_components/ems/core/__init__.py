"""ems core: everything that decides and talks to devices, without Home Assistant.

One source (``core/ems_core``), imported as ``ems_core`` by the add-on and the simulator and
vendored, byte for byte, into the integration as ``custom_components/ems/core`` (HACS installs
the integration folder alone). ``tools/vendor_core.py`` writes the copies and ``make test``
checks them. Modules here import only the standard library, voluptuous, PyYAML, pymodbus and
each other (relatively), never Home Assistant, the integration, the add-on or the simulator.
"""
