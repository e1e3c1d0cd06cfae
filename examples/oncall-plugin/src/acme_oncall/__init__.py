"""Acme on-call: an example command plugin for the account-binding Slack app.

- `acme_oncall.commands`: the plugin (`/acme oncall now`, `oncall shifts`, `oncall page`),
  registered as the entry point `oncall` of the group `account_binding.commands`.
- `acme_oncall.service`: the on-call API it calls, a reference for how a company's API
  accepts the product's credentials (`python -m acme_oncall.service --help`).
"""
