"""Every write about inquiries, one module per use case (STYLE.md: past ~400 lines, a package)."""
