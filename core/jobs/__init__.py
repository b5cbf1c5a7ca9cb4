"""Work done after the request: the job queue, its worker and sweeps, and outgoing mail."""
