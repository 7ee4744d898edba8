"""Reads about leads and appointments."""
