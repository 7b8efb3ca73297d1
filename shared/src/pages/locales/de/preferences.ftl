# Die Seite der Nachrichteneinstellungen.

preferences-title = Ihre Nachrichteneinstellungen
preferences-intro = Wählen Sie, welche Nachrichten { $tenant } Ihnen sendet und wie.
preferences-channels-none = { $tenant } hat keine E-Mail-Adresse und keine Telefonnummer von Ihnen und sendet Ihnen daher keine Nachrichten.
preferences-saved = Ihre Einstellungen sind gespeichert
preferences-saved-text = Sie können sie hier jederzeit ändern.

preferences-cap = Häufigkeit
preferences-cap-hint = Lassen Sie die Zahl leer, wenn es keine Begrenzung geben soll.
preferences-cap-max = Höchstens so viele Nachrichten
preferences-cap-per = Pro
preferences-per-day = Tag
preferences-per-week = Woche

preferences-quiet = Ruhezeiten
preferences-quiet-hint = Nachrichten in diesen Stunden warten bis zu deren Ende. Lassen Sie beide Zeiten leer, wenn es keine geben soll.
preferences-quiet-from = Von
preferences-quiet-to = Bis
preferences-time-zone = Zeitzone
preferences-time-zone-hint = Zum Beispiel Europe/Berlin oder Europe/Vienna.

preferences-everything = Von allem abmelden
preferences-everything-hint = Sie erhalten keine Nachrichten mehr, unabhängig von der Auswahl oben.
preferences-save = Einstellungen speichern

error-cap-max = Höchstens so viele Nachrichten: Geben Sie eine ganze Zahl von 1 bis { $max } ein oder lassen Sie das Feld leer
error-cap-per = Pro: Wählen Sie Tag oder Woche
error-quiet-from = Von: Geben Sie eine Uhrzeit ein, zum Beispiel 22:00
error-quiet-to = Bis: Geben Sie eine Uhrzeit ein, zum Beispiel 07:00
error-quiet-same = Bis: Geben Sie eine andere Uhrzeit als den Beginn ein
error-time-zone-missing = Zeitzone: Geben Sie Ihre Zeitzone ein, zum Beispiel Europe/Berlin
error-time-zone = Zeitzone: Geben Sie eine Zeitzone wie Europe/Berlin ein
