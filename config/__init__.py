"""Configuration: the typed settings object and the Celery settings written out."""

from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
