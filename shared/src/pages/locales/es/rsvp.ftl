# La página de respuesta: un invitado responde a una invitación.

rsvp-title = Su respuesta
rsvp-invite = { $tenant } le invita a { $event }.
rsvp-when = Cuándo: { $when }
rsvp-cancelled = Este evento se ha cancelado.
rsvp-coming = ¿Asistirá?
rsvp-choice-accepted = Sí, asistiré
rsvp-choice-declined = No, no podré asistir
rsvp-choice-maybe = Quizás
rsvp-party = ¿Cuántas personas, usted incluido?
rsvp-party-hint = Usted y hasta { $others } más: { $max } como máximo.
rsvp-optional = (opcional)
rsvp-questions-declined = Si no puede asistir, no necesita responder a las preguntas.
rsvp-until = Puede cambiar su respuesta hasta el { $deadline }.
rsvp-send = Enviar mi respuesta
rsvp-saved = Su respuesta está guardada
rsvp-saved-text = Gracias. Puede cambiarla aquí hasta el { $deadline }.
rsvp-your-answer = Su respuesta
rsvp-none = No ha respondido.
rsvp-status-accepted = Asistirá
rsvp-status-declined = No asistirá
rsvp-status-maybe = Quizás
rsvp-people = Personas: { $count }
rsvp-closed = Las respuestas están cerradas
rsvp-closed-deadline = El plazo para responder terminó el { $deadline }.
rsvp-closed-cancelled = El evento se ha cancelado y ya no acepta respuestas.

rsvp-error-status = ¿Asistirá?: elija sí, no o quizás
rsvp-error-party = Cuántas personas: escriba un número entero de 1 a { $max }
rsvp-error-required = { $question }: responda a esta pregunta
rsvp-error-answer = { $question }: elija entre las opciones ofrecidas o escriba 500 caracteres como máximo
