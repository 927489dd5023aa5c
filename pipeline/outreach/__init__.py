"""Outreach sequences: YAML config, send windows, enrolment, stop conditions, the tick."""
