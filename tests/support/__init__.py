"""Real servers and helpers shared by test folders (HTTP on 127.0.0.1, SMTP sinks, clocks)."""
