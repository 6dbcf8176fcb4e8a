"""connectors/targets."""
