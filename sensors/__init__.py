"""Sensors: file arrival (and later webhook inbox, run failures)."""
