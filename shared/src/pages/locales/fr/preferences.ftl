# La page des préférences.

preferences-title = Vos préférences de messages
preferences-intro = Choisissez les messages que { $tenant } vous envoie, et comment.
preferences-channels-none = { $tenant } n’a ni adresse e-mail ni numéro de téléphone pour vous : vous ne recevez aucun message.
preferences-saved = Vos préférences sont enregistrées
preferences-saved-text = Vous pouvez les modifier ici à tout moment.

preferences-cap = Fréquence
preferences-cap-hint = Laissez le nombre vide pour ne fixer aucune limite.
preferences-cap-max = Au plus ce nombre de messages
preferences-cap-per = Par
preferences-per-day = Jour
preferences-per-week = Semaine

preferences-quiet = Heures calmes
preferences-quiet-hint = Les messages prévus pendant ces heures attendent leur fin. Laissez les deux heures vides pour aucune.
preferences-quiet-from = De
preferences-quiet-to = À
preferences-time-zone = Fuseau horaire
preferences-time-zone-hint = Par exemple Europe/Paris ou America/Montreal.

preferences-everything = Me désabonner de tout
preferences-everything-hint = Vous ne recevrez plus aucun message, quels que soient les choix ci-dessus.
preferences-save = Enregistrer mes préférences

error-cap-max = Au plus ce nombre de messages : saisissez un nombre entier de 1 à { $max }, ou laissez le champ vide
error-cap-per = Par : choisissez jour ou semaine
error-quiet-from = De : saisissez une heure, par exemple 22:00
error-quiet-to = À : saisissez une heure, par exemple 07:00
error-quiet-same = À : saisissez une heure différente de celle du début
error-time-zone-missing = Fuseau horaire : saisissez votre fuseau horaire, par exemple Europe/Paris
error-time-zone = Fuseau horaire : saisissez un fuseau horaire comme Europe/Paris
