"""Schedules: time-driven work (sequence ticks, Drive channel renewal, digests), each
targeting an asset selection."""
