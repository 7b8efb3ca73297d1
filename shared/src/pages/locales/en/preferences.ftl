# The preference page.

preferences-title = Your message preferences
preferences-intro = Choose which messages { $tenant } sends you, and how.
preferences-channels-none = { $tenant } has no email address or phone number for you, so it sends you no messages.
preferences-saved = Your preferences are saved
preferences-saved-text = You can change them here at any time.

preferences-cap = How often
preferences-cap-hint = Leave the number empty for no limit.
preferences-cap-max = At most this many messages
preferences-cap-per = In each
preferences-per-day = Day
preferences-per-week = Week

preferences-quiet = Quiet hours
preferences-quiet-hint = Messages due in these hours wait until they end. Leave both times empty for none.
preferences-quiet-from = From
preferences-quiet-to = Until
preferences-time-zone = Time zone
preferences-time-zone-hint = For example Europe/Paris or America/New_York.

preferences-everything = Unsubscribe from everything
preferences-everything-hint = You will receive no messages at all, whatever is ticked above.
preferences-save = Save my preferences

error-cap-max = At most this many messages: enter a whole number from 1 to { $max }, or leave it empty
error-cap-per = In each: choose day or week
error-quiet-from = From: enter a time such as 22:00
error-quiet-to = Until: enter a time such as 07:00
error-quiet-same = Until: enter a time different from the start
error-time-zone-missing = Time zone: enter your time zone, such as Europe/Paris
error-time-zone = Time zone: enter a time zone such as Europe/Paris
