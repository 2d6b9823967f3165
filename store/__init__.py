"""Storage: SQLAlchemy models, the engine and sessions, and the injectable clock."""
