"""Users and authentication: the custom user, token auth, e-mail links, account pages."""
