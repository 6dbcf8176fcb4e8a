"""moisson."""
