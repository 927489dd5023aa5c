"""Normalizers: each turns one messy field into clean columns with vectorized polars."""
