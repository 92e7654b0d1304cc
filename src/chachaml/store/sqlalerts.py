"""SQL of alerts for the SQL stores (work in progress)."""
