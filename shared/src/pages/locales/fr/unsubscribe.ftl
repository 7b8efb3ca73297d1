# La page du lien de désabonnement d’un message.

unsubscribe-title = Se désabonner
unsubscribe-will-stop = Vous ne recevrez plus les messages « { $category } » { $channel } de { $tenant }.
unsubscribe-will-stop-all = Vous ne recevrez plus aucun message de { $tenant }, sur aucun canal.
unsubscribe-button = Me désabonner
unsubscribe-still = Vous recevrez encore
unsubscribe-still-now = Ce que vous recevez encore
unsubscribe-still-all = { $channel } : tous les messages
unsubscribe-still-all-other = { $channel } : tous les autres messages
unsubscribe-still-some = { $channel } : { $categories }
unsubscribe-still-nothing = Rien : { $tenant } ne vous enverra aucun message.
unsubscribe-manage = Choisir plutôt ce que vous recevez
unsubscribe-manage-after = Modifier ce que vous recevez

unsubscribed-title = Vous êtes désabonné(e)
unsubscribed-text = Vous ne recevrez plus les messages « { $category } » { $channel } de { $tenant }.
unsubscribed-text-all = Vous ne recevrez plus aucun message de { $tenant }.
