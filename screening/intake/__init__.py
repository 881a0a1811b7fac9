"""Intake parsing: the questionnaire catalogue and its marshmallow schemas (``schemas``),
conditional items (``enable_when``) and the fast path that validates the common case
without building schema objects (``fastpath``).
"""
