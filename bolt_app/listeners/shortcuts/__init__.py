"""Shortcut listeners."""
