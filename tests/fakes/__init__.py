"""Hand-written fakes: connectors loaded by dotted path, stateful portal APIs, fault proxies."""
