"""Clinical rules of the intake screening service: standard library only."""
