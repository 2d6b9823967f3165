"""The Flask web app: signup pages, confirmation, unsubscribe, tracking, webhook and admin."""

from web.app import create_app

__all__ = ["create_app"]
