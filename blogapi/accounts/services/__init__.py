"""Account flows: one function per flow, called by every interface (API, pages, admin, commands)."""
