"""Keeping added columns in the chunk layout of the frame they join.

A frame read from a multi-row-group parquet file holds each column in several chunks. A
column added in one chunk leaves the frame's columns chunked differently, and the next
query over the frame rechunks all of them: a copy of every column (hundreds of MB at a
million rows) that lives as long as the frame. Cutting the new column into the frame's
chunks (zero-copy slices) avoids it.
"""

from __future__ import annotations

import itertools

import polars as pl


def chunk_layout(frame: pl.DataFrame) -> list[tuple[int, int]]:
    """(offset, length) of each chunk of the frame's first column."""
    if not frame.width:
        return []
    lengths = [chunk.len() for chunk in frame.get_column(frame.columns[0]).get_chunks()]
    return list(zip(itertools.accumulate([0, *lengths[:-1]]), lengths, strict=True))


def aligned(series: pl.Series, layout: list[tuple[int, int]]) -> pl.Series:
    """`series` cut into the frame's chunks (zero-copy slices), to be added to it. A series
    already in chunks of those lengths is returned as it is (not only of that number: the
    lazy engine may cut a result where the frame has no chunk boundary)."""
    if [chunk.len() for chunk in series.get_chunks()] == [length for _, length in layout]:
        return series
    whole = series.rechunk()
    if len(layout) < 2:
        return whole
    return pl.concat([whole.slice(offset, length) for offset, length in layout], rechunk=False)
