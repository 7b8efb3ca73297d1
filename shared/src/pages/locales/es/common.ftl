# Comunes a todas las páginas: diseño, errores de formulario, enlaces rechazados, canales y categorías.

page-whose = Para { $name }
title-error-prefix = Error:
error-summary-title = Hay un problema
error-prefix = Error:

link-refused-title = Este enlace no funciona
link-expired = Este enlace ha caducado. Usa el enlace de un mensaje más reciente.
link-invalid = Este enlace no es válido. Usa el enlace de uno de tus mensajes.
link-gone = Ya no hay nada que gestionar con este enlace.

channel-email = Correo electrónico
channel-sms = SMS
channel-whatsapp = WhatsApp
channel-by-email = por correo electrónico
channel-by-sms = por SMS
channel-by-whatsapp = por WhatsApp

category-save_the_date = Reserva la fecha
category-invitation = Invitaciones
category-rsvp_confirmation = Confirmaciones de asistencia
category-reminder = Recordatorios
category-schedule_change = Cambios de programa
category-logistics = Logística
category-day_of = El día del evento
category-thank_you = Agradecimientos
category-survey = Encuestas
category-cancellation = Cancelaciones
