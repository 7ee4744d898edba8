"""Weekly win / loss / postpone reports, funnel and ROI, dashboards (later issues)."""
