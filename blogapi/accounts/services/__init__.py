"""Account flows, one module per topic, called by every interface (API, pages, admin, commands)."""
