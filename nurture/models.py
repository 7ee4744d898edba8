"""Nurture programs, steps, enrollments and the send outbox (later issues)."""
