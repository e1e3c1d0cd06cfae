"""The Slack side: a Bolt app that answers the slash command over Socket Mode."""
