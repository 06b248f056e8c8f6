"""Message contracts shared by the gateway (publisher) and a domain's worker (consumer).

One module per domain: its job payload models and the pure rules both sides need.
"""
