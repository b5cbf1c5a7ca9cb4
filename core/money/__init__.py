"""What a campaign charges and how it is paid: fee terms, payment providers, payments."""
