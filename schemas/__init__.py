"""National Table Schemas shipped with moisson, as `<name>/<version>/schema.json` (see README.md)."""
