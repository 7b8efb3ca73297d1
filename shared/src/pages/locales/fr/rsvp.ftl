# La page de réponse : un invité répond à une invitation.

rsvp-title = Votre réponse
rsvp-invite = { $tenant } vous invite à { $event }.
rsvp-when = Quand : { $when }
rsvp-cancelled = Cet événement a été annulé.
rsvp-coming = Serez-vous présent ?
rsvp-choice-accepted = Oui, je serai présent
rsvp-choice-declined = Non, je ne pourrai pas venir
rsvp-choice-maybe = Peut-être
rsvp-party = Combien de personnes, vous compris ?
rsvp-party-hint = Vous et jusqu’à { $others } autres : { $max } au plus.
rsvp-optional = (facultatif)
rsvp-questions-declined = Si vous ne pouvez pas venir, vous n’avez pas à répondre aux questions.
rsvp-until = Vous pouvez modifier votre réponse jusqu’au { $deadline }.
rsvp-send = Envoyer ma réponse
rsvp-saved = Votre réponse est enregistrée
rsvp-saved-text = Merci. Vous pouvez la modifier ici jusqu’au { $deadline }.
rsvp-your-answer = Votre réponse
rsvp-none = Vous n’avez pas répondu.
rsvp-status-accepted = Présent
rsvp-status-declined = Absent
rsvp-status-maybe = Peut-être
rsvp-people = Personnes : { $count }
rsvp-closed = Les réponses sont closes
rsvp-closed-deadline = La date limite des réponses était le { $deadline }.
rsvp-closed-cancelled = L’événement a été annulé : il ne prend plus de réponses.

rsvp-error-status = Serez-vous présent : choisissez oui, non ou peut-être
rsvp-error-party = Combien de personnes : saisissez un nombre entier de 1 à { $max }
rsvp-error-required = { $question } : répondez à cette question
rsvp-error-answer = { $question } : choisissez parmi les options proposées, ou écrivez 500 caractères au plus
