"""Image data sets and small image helpers."""
