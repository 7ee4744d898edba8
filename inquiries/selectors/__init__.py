"""Reads about inquiries: lists, detail, timeline; analysis of definitions in ``analysis``."""
