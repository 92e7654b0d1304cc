"""SQL of pipelines for the SQL stores (work in progress)."""
