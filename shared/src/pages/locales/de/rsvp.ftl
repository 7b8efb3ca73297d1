# Die Antwortseite: ein Gast antwortet auf eine Einladung.

rsvp-title = Ihre Antwort
rsvp-invite = { $tenant } lädt Sie zu { $event } ein.
rsvp-when = Wann: { $when }
rsvp-cancelled = Diese Veranstaltung wurde abgesagt.
rsvp-coming = Kommen Sie?
rsvp-choice-accepted = Ja, ich komme
rsvp-choice-declined = Nein, ich kann nicht kommen
rsvp-choice-maybe = Vielleicht
rsvp-party = Wie viele Personen, Sie eingeschlossen?
rsvp-party-hint = Sie und bis zu { $others } weitere: höchstens { $max }.
rsvp-optional = (optional)
rsvp-questions-declined = Wenn Sie nicht kommen können, müssen Sie die Fragen nicht beantworten.
rsvp-until = Sie können Ihre Antwort bis { $deadline } ändern.
rsvp-send = Antwort senden
rsvp-saved = Ihre Antwort ist gespeichert
rsvp-saved-text = Vielen Dank. Sie können sie hier bis { $deadline } ändern.
rsvp-your-answer = Ihre Antwort
rsvp-none = Sie haben nicht geantwortet.
rsvp-status-accepted = Kommt
rsvp-status-declined = Kommt nicht
rsvp-status-maybe = Vielleicht
rsvp-people = Personen: { $count }
rsvp-closed = Antworten sind geschlossen
rsvp-closed-deadline = Die Frist für Antworten endete am { $deadline }.
rsvp-closed-cancelled = Die Veranstaltung wurde abgesagt und nimmt keine Antworten mehr an.

rsvp-error-status = Kommen Sie: wählen Sie ja, nein oder vielleicht
rsvp-error-party = Wie viele Personen: geben Sie eine ganze Zahl von 1 bis { $max } ein
rsvp-error-required = { $question }: beantworten Sie diese Frage
rsvp-error-answer = { $question }: wählen Sie aus den angebotenen Optionen oder schreiben Sie höchstens 500 Zeichen
