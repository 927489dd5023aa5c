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


def morsel_layout(height: int) -> list[tuple[int, int]]:
    """(offset, length) of the chunks the lazy engine returns from a frame of `height` rows
    in one chunk: its morsels, which depend on the height, the thread count and
    POLARS_IDEAL_MORSEL_SIZE (1M rows on 2 threads: 100,000 each; 300,000: 75,000). Found by
    running a query over a column of bytes (a millisecond at 1M rows), not from polars'
    rules: should they change, the layout follows."""
    probe = pl.LazyFrame({"p": pl.zeros(height, dtype=pl.Int8, eager=True)})
    return chunk_layout(probe.select(pl.col("p") + 1).collect())


def in_morsels(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame cut into the lazy engine's morsels (`morsel_layout`). Columns a lazy query
    computes from it then come back in its own chunks and join it as they are: from a
    parquet file's row groups (125,000 rows) each of the 26 fingerprint columns of 1M
    leads was copied once more to be aligned (0.34 s), the frame's columns once here
    (0.09 s)."""
    if not frame.width or not frame.height:
        return frame
    pieces = morsel_layout(frame.height)
    if chunk_layout(frame) == pieces and len(set(frame.n_chunks("all"))) == 1:
        return frame
    return pl.concat(
        [frame.slice(offset, length).rechunk() for offset, length in pieces], rechunk=False
    )
