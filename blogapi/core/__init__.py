"""Domain-free shared code (pagination, error pages); imports nothing else of ours."""
