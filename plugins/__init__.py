"""Built-in claimsite plugins. Each is registered through the ``claimsite.plugins`` entry-point group in
pyproject.toml, exactly as a third-party plugin package would be."""
