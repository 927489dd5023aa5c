"""Schedules of the code location; each targets an asset selection."""
