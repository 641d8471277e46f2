"""Migrations of the bot's own state file (PETKOMM_STATE_DB): dialogue states, received updates.

Applied by the runner in `storage.migrations` (its `STATE` package), like the
main database's, and recorded in that file's own `schema_migrations`.
"""
