"""Queries by table family; each function takes the Connection or Session it gets."""
