"""The stand-in internal application: the small JSON API the sandbox and the default setup
act in, with its to-do items, until `INTERNAL_API_URL` points at a company's own system.

It is not part of the binding domain (`account_binding`) nor of the binding site (`web`):
the composition root (`launcher.compose`) serves its routes on the site and opens its store
only when `settings.serves_stand_in`. Its to-do commands are a command plugin
(`stand_in.commands`), as a company's own commands would be.

Modules: `todos` (the to-do rules), `store` and `migrations` (its tables, in the same SQLite
file as the domain's), `auth` (who a request acts for, in each acting mode), `api` (the
routes), `app` (the whole, as compose builds it).
"""
