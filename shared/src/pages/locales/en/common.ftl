# Shared by every page: the layout, form errors, refused links, channels and categories.

# Whose page this is: a name, or a masked address such as a•••@example.com.
page-whose = For { $name }
# Before a page's title when its form has errors.
title-error-prefix = Error:
error-summary-title = There is a problem
# Read out before a field's error (hidden on screen).
error-prefix = Error:

link-refused-title = This link does not work
link-expired = This link has expired. Use the link in a more recent message.
link-invalid = This link is not valid. Use the link in one of your messages.
link-gone = There is nothing to manage for this link any more.

channel-email = Email
channel-sms = Text messages (SMS)
channel-whatsapp = WhatsApp
# In a sentence: “… Invitations by email”.
channel-by-email = by email
channel-by-sms = by text message (SMS)
channel-by-whatsapp = on WhatsApp

category-save_the_date = Save the date
category-invitation = Invitations
category-rsvp_confirmation = RSVP confirmations
category-reminder = Reminders
category-schedule_change = Schedule changes
category-logistics = Logistics
category-day_of = On the day
category-thank_you = Thank-you messages
category-survey = Surveys
category-cancellation = Cancellations
