"""Lead pipeline engine: plain Python and polars, no Dagster imports.

The Dagster layer (`assets`, `resources`, `sensors`) wraps this package; only
`pipeline.definitions` imports it, as the composition root.
"""
