"""Generators and checks of the repository (run as modules: ``python -m tools.<name>``)."""
