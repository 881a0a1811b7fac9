"""Configuration: the settings read from the environment at start-up (``settings``).
"""
