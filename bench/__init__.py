"""`make bench`: the benchmark's harness, settings and URLconf (never loaded by the app)."""
