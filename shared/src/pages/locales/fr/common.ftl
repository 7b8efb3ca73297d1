# Communs à toutes les pages : mise en page, erreurs de formulaire, liens refusés, canaux et catégories.

page-whose = Pour { $name }
title-error-prefix = Erreur :
error-summary-title = Il y a un problème
error-prefix = Erreur :

link-refused-title = Ce lien ne fonctionne pas
link-expired = Ce lien a expiré. Utilisez le lien d’un message plus récent.
link-invalid = Ce lien n’est pas valide. Utilisez le lien de l’un de vos messages.
link-gone = Il n’y a plus rien à gérer pour ce lien.

channel-email = E-mail
channel-sms = SMS
channel-whatsapp = WhatsApp
channel-by-email = par e-mail
channel-by-sms = par SMS
channel-by-whatsapp = sur WhatsApp

category-save_the_date = Réservez la date
category-invitation = Invitations
category-rsvp_confirmation = Confirmations de réponse
category-reminder = Rappels
category-schedule_change = Changements de programme
category-logistics = Informations pratiques
category-day_of = Le jour J
category-thank_you = Remerciements
category-survey = Questionnaires
category-cancellation = Annulations
