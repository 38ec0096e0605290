"""digest: a daily email digest of new research papers."""
