# Die Seite des Abmeldelinks einer Nachricht.

unsubscribe-title = Abmelden
unsubscribe-will-stop = Sie erhalten von { $tenant } keine Nachrichten der Art „{ $category }“ { $channel } mehr.
unsubscribe-will-stop-all = Sie erhalten von { $tenant } keine Nachrichten mehr, auf keinem Kanal.
unsubscribe-button = Abmelden
unsubscribe-still = Sie erhalten weiterhin
unsubscribe-still-now = Was Sie weiterhin erhalten
unsubscribe-still-all = { $channel }: alle Nachrichten
unsubscribe-still-all-other = { $channel }: alle anderen Nachrichten
unsubscribe-still-some = { $channel }: { $categories }
unsubscribe-still-nothing = Nichts: { $tenant } sendet Ihnen keine Nachrichten.
unsubscribe-manage = Stattdessen auswählen, was Sie erhalten
unsubscribe-manage-after = Ändern, was Sie erhalten

unsubscribed-title = Sie sind abgemeldet
unsubscribed-text = Sie erhalten von { $tenant } keine Nachrichten der Art „{ $category }“ { $channel } mehr.
unsubscribed-text-all = Sie erhalten von { $tenant } keine Nachrichten mehr.
