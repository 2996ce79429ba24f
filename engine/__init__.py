"""The sync engine: loading and validating the repository, planning, applying."""
