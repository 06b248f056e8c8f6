"""The job runtime every process shares; it knows no domain (each domain declares its queues
and schema through the `relay.topology` and `relay.migrations` entry points)."""
