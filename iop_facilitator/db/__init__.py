"""Database access: engine creation, pre-flight checks and migrations."""
