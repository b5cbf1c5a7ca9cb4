"""The participant's vault: files only the participant can open (issue 21). :mod:`core.vault.stream_format`
encrypts and decrypts the vault file format (``FORMAT.md`` beside it, shared with the browser's JavaScript);
:mod:`core.vault.store` keeps the encrypted files, in a local folder or an S3-compatible object store."""
