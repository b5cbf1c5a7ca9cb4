"""Storage and the protection of personal data: the database, models, sealing, hashing, retention."""
