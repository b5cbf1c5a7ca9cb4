"""Phone numbers proved by an SMS code (issue 19): the providers that send SMS (:mod:`.sms_providers`), the code
and its rules (:mod:`.verification`), the limits against SMS pumping and the daily budget (:mod:`.limits`), what a
tripped limit records and tells staff (:mod:`.alerts`), and the worker's job that sends (:mod:`.sms_job`)."""
