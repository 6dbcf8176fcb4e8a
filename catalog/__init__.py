"""The catalog: its model, its line-numbered YAML loader and the resolution of collections."""
