"""ems optimizer add-on: plans the battery and the flexible appliances of a site."""

__version__ = "0.2.0"
