"""Use cases on a SQLAlchemy ``Session``: no Flask imports, never commit (the caller does)."""
