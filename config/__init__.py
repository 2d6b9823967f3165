"""Configuration: the typed settings object and the Celery settings written out."""

from config.settings import ConfigError, Settings, get_settings, load_settings, reset_settings_cache

__all__ = ["ConfigError", "Settings", "get_settings", "load_settings", "reset_settings_cache"]
