"""The inquiries API, one module per resource."""
