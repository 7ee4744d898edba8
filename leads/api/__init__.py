"""The leads API, one module per resource."""
