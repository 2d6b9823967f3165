"""Configuration: the typed settings object and the Celery settings written out."""

from config.settings import ConfigError, Settings, load_settings
from config.startup import check_safe_to_serve

__all__ = ["ConfigError", "Settings", "check_safe_to_serve", "load_settings"]
