"""What the gateway observes about the requests it serves (metrics, request logs, traces)."""
