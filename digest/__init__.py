"""digest: a daily email digest of new research papers, personalised by keyword profiles."""

__version__ = "0.1.0"
