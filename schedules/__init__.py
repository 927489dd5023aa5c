"""Schedules: time-driven work (sequence ticks, digests), each targeting an asset selection."""
