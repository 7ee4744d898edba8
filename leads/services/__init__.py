"""Every write about leads and appointments, one module per use case."""
