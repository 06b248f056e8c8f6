"""Real servers on localhost standing in for external providers."""
