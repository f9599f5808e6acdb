"""Command-line interface (`labelf`)."""
