"""The topic library: facilitator guides read from files (no database, no UI)."""
