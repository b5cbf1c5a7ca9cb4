"""The collective data requests: rounds, letters, identity proof and their deadlines."""
