"""The processes that run the service: gunicorn with the application (``gunicorn``) and its
own error answers (``gunicorn_errors``), the background worker (``worker``) and its audit
sealing job (``sealer``).
"""
