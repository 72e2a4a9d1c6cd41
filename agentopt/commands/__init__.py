"""Subcommands of `agentopt`: one module each, with `register(app)`."""
