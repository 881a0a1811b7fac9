"""The intake screening service (Flask application)."""
