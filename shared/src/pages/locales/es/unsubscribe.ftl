# La página del enlace para darse de baja de un mensaje.

unsubscribe-title = Darse de baja
unsubscribe-will-stop = Dejarás de recibir los mensajes «{ $category }» { $channel } de { $tenant }.
unsubscribe-will-stop-all = Dejarás de recibir todos los mensajes de { $tenant }, por cualquier canal.
unsubscribe-button = Darme de baja
unsubscribe-still = Seguirás recibiendo
unsubscribe-still-now = Lo que sigues recibiendo
unsubscribe-still-all = { $channel }: todos los mensajes
unsubscribe-still-all-other = { $channel }: todos los demás mensajes
unsubscribe-still-some = { $channel }: { $categories }
unsubscribe-still-nothing = Nada: { $tenant } no te enviará ningún mensaje.
unsubscribe-manage = Elegir en su lugar lo que recibes
unsubscribe-manage-after = Cambiar lo que recibes

unsubscribed-title = Te has dado de baja
unsubscribed-text = Ya no recibirás los mensajes «{ $category }» { $channel } de { $tenant }.
unsubscribed-text-all = Ya no recibirás ningún mensaje de { $tenant }.
