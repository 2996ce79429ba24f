"""pydantic models of the files users write: schedule files and ``schedsync.yaml``."""
