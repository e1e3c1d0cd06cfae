"""What an operator watches: the process's Prometheus metrics and the Socket Mode
connection's state, which `/readyz` and `/metrics` report.

A leaf package: `bolt_app`, `web` and `launcher` record into it; it imports none of them,
and the binding domain (`account_binding`) never sees it.
"""
