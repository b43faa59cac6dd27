"""blogapi: the Blog API of Django for APIs, built as production-grade software."""
