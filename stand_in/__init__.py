"""The stand-in internal application (temporary home: its own package is being built)."""
