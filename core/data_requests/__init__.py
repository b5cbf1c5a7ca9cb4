"""The collective data requests (issue 20): the companies a participant chooses (:mod:`.choices`, :mod:`.choosing`),
the campaign's settings (:mod:`.settings`), the copy of an ID document (:mod:`.id_images`), the Art. 15 request
letters (:mod:`.letters`) and when a company must answer, counted from its receipt under Art. 12(3) GDPR and
Regulation 1182/71 (:mod:`.deadlines`)."""
