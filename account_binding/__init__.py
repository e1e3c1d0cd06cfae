"""The domain of account binding: Slack identities, binding links, bindings and tokens.

Nothing in this package knows about Slack's wire formats or HTTP; `bolt_app` and `web` both
call into it.
"""
