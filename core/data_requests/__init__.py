"""The collective data requests: rounds, letters, identity proof and their deadlines (issue 20).

When a company must answer a request, counted from its receipt under Art. 12(3) GDPR and Regulation 1182/71, and
the state of a request on a given day: :mod:`.deadlines`."""
