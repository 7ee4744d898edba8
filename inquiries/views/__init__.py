"""Browser pages of inquiries: the public form, and the marketing pages in ``pages``."""
