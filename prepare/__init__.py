"""Preparation: recipes that fit a source file to its target schema, between extraction and quality."""
