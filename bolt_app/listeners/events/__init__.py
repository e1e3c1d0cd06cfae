"""Events API listeners (events arrive over Socket Mode; Bolt acknowledges each at once)."""
