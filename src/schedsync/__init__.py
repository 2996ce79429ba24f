"""schedsync: GitOps for periodic task schedules."""

__version__ = "0.1.0"
