# La página de preferencias.

preferences-title = Tus preferencias de mensajes
preferences-intro = Elige qué mensajes te envía { $tenant } y cómo.
preferences-channels-none = { $tenant } no tiene tu correo electrónico ni tu teléfono, así que no te envía mensajes.
preferences-saved = Tus preferencias se han guardado
preferences-saved-text = Puedes cambiarlas aquí cuando quieras.

preferences-cap = Frecuencia
preferences-cap-hint = Deja el número vacío para no poner límite.
preferences-cap-max = Como máximo este número de mensajes
preferences-cap-per = Por
preferences-per-day = Día
preferences-per-week = Semana

preferences-quiet = Horas de silencio
preferences-quiet-hint = Los mensajes previstos en estas horas esperan a que terminen. Deja las dos horas vacías para ninguna.
preferences-quiet-from = Desde
preferences-quiet-to = Hasta
preferences-time-zone = Zona horaria
preferences-time-zone-hint = Por ejemplo Europe/Madrid o America/Mexico_City.

preferences-everything = Darme de baja de todo
preferences-everything-hint = No recibirás ningún mensaje, sea cual sea la selección de arriba.
preferences-save = Guardar mis preferencias

error-cap-max = Como máximo este número de mensajes: escribe un número entero de 1 a { $max }, o déjalo vacío
error-cap-per = Por: elige día o semana
error-quiet-from = Desde: escribe una hora, por ejemplo 22:00
error-quiet-to = Hasta: escribe una hora, por ejemplo 07:00
error-quiet-same = Hasta: escribe una hora distinta de la de inicio
error-time-zone-missing = Zona horaria: escribe tu zona horaria, por ejemplo Europe/Madrid
error-time-zone = Zona horaria: escribe una zona horaria como Europe/Madrid
