"""One module per validated instrument: scoring exactly as its published manual says."""
