"""Storage and the protection of personal data: the database, models, migrations, personal data (sealed to the
foundation's key by :mod:`core.sealing`), hashing, look-alike addresses, retention and database faults."""
