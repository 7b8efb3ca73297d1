# Für alle Seiten: Layout, Formularfehler, abgelehnte Links, Kanäle und Kategorien.

page-whose = Für { $name }
title-error-prefix = Fehler:
error-summary-title = Es gibt ein Problem
error-prefix = Fehler:

link-refused-title = Dieser Link funktioniert nicht
link-expired = Dieser Link ist abgelaufen. Nutzen Sie den Link einer neueren Nachricht.
link-invalid = Dieser Link ist ungültig. Nutzen Sie den Link aus einer Ihrer Nachrichten.
link-gone = Für diesen Link gibt es nichts mehr zu verwalten.

channel-email = E-Mail
channel-sms = SMS
channel-whatsapp = WhatsApp
channel-by-email = per E-Mail
channel-by-sms = per SMS
channel-by-whatsapp = über WhatsApp

category-save_the_date = Save the Date
category-invitation = Einladungen
category-rsvp_confirmation = Antwortbestätigungen
category-reminder = Erinnerungen
category-schedule_change = Programmänderungen
category-logistics = Organisatorisches
category-day_of = Am Veranstaltungstag
category-thank_you = Dankesnachrichten
category-survey = Umfragen
category-cancellation = Absagen
