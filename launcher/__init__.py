"""Puts the parts together: settings, store, the Bolt app, the site, the sandbox, the CLI."""
