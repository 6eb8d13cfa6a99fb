"""The demo and its screenshots: ``python -m scripts.demo``, ``python -m scripts.screenshots``."""
