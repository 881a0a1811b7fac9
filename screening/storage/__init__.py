"""Storage: the models, sessions and engines (``db``), the write path (``group_commit``,
``driver``), the hash-chained audit log (``audit``), its signed checkpoints (``checkpoints``)
and the diagnosis of database errors (``diagnosis``).
"""
