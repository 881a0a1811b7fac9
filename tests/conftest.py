"""Root test configuration. Kept free of application imports so that the pure rules tests
(tests/rules) run even when the service layer does not import."""
