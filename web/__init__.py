"""The web side: the login-protected binding pages and the internal application's stand-in."""
