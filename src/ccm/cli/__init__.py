"""Command-line shell: parse, call the core, serialise."""
