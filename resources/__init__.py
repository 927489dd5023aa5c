"""Dagster resources: each an interface with a local backend and (later) a real one."""
